"""Scoring-rule losses (arXiv 2502.02483): exact oracles, unbiasedness, propriety, gradients."""

import itertools
import math

import pytest
import torch

from difflab.errors import DifflabError
from difflab.objectives.scoring import energy_score, kernel_score, median_bandwidth, scoring_loss


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _folded_normal_mean(delta: float, tau: float) -> float:
    """E|Z| for Z ~ N(delta, tau²)."""
    return tau * math.sqrt(2 / math.pi) * math.exp(-(delta**2) / (2 * tau**2)) + delta * math.erf(
        delta / (tau * math.sqrt(2))
    )


def _mean_and_se(x: torch.Tensor) -> tuple[float, float]:
    return x.mean().item(), (x.std() / math.sqrt(x.numel())).item()


# --- exact special cases -------------------------------------------------------------------------


def test_lam0_beta2_is_x0_mse():
    g = _gen(1)
    samples, target = torch.randn(5, 4, 3, 6, 6, generator=g), torch.randn(5, 3, 6, 6, generator=g)
    want = ((samples - target[:, None]) ** 2).flatten(2).sum(-1).mean(1)
    got = energy_score(samples, target, beta=2.0, lam=0.0)
    torch.testing.assert_close(got, want, rtol=1e-6, atol=0)


def test_beta2_lam1_equals_mean_error_minus_unbiased_spread():
    # Algebra: mean_j‖x_j−y‖² − Σ_{j<j'}‖x_j−x_j'‖²/(m(m−1)) = ‖x̄−y‖² − Σ_j‖x_j−x̄‖²/(m(m−1)).
    g = _gen(2)
    samples = torch.randn(7, 5, 3, generator=g, dtype=torch.float64)
    target = torch.randn(7, 3, generator=g, dtype=torch.float64)
    m = samples.shape[1]
    mean = samples.mean(1)
    spread = (samples - mean[:, None]).square().sum((1, 2))
    want = (mean - target).square().sum(-1) - spread / (m * (m - 1))
    torch.testing.assert_close(energy_score(samples, target, beta=2.0, lam=1.0), want)


def test_large_offset_keeps_precision_in_float32():
    # A Gram expansion ‖a‖² + ‖b‖² − 2⟨a,b⟩ at offset 1e3 loses every digit of a 1e-2 spread.
    g = _gen(3)
    samples = (1e3 + 1e-2 * torch.randn(4, 3, 64, generator=g)).float()
    target = (1e3 + 1e-2 * torch.randn(4, 64, generator=g)).float()
    for beta in (1.0, 2.0):
        got = energy_score(samples, target, beta=beta)
        want = energy_score(samples.double(), target.double(), beta=beta)
        torch.testing.assert_close(got.double(), want, rtol=1e-4, atol=0)
        assert got.dtype == torch.float32


# --- unbiasedness ----------------------------------------------------------------------------------


def test_energy_beta1_unbiased_1d_gaussians():
    mu1, mu2, s, n, m = 0.3, -0.2, 0.8, 40_000, 4
    g = _gen(4)
    samples = mu1 + s * torch.randn(n, m, 1, generator=g, dtype=torch.float64)
    target = mu2 + s * torch.randn(n, 1, generator=g, dtype=torch.float64)
    want = _folded_normal_mean(mu1 - mu2, s * math.sqrt(2)) - 0.5 * (2 * s / math.sqrt(math.pi))
    mean, se = _mean_and_se(energy_score(samples, target, beta=1.0, lam=1.0))
    assert abs(mean - want) < 4 * se
    # The biased V-statistic (diagonal included) shrinks the spread by (m−1)/m: far outside.
    assert 0.5 * (2 * s / math.sqrt(math.pi)) / m > 10 * se


@pytest.mark.parametrize("lam", [1.0, 0.5])
def test_energy_beta2_unbiased_dd_gaussians(lam):
    # E‖X−y‖² − (λ/2)E‖X−X'‖² = ‖μ₁−μ₂‖² + d(s₁² + s₂²) − λ d s₁².
    d, s1, s2, n, m = 3, 0.7, 1.2, 20_000, 4
    mu1, mu2 = torch.tensor([0.5, -1.0, 0.0]), torch.tensor([0.0, 0.5, 2.0])
    g = _gen(5)
    samples = mu1 + s1 * torch.randn(n, m, d, generator=g, dtype=torch.float64)
    target = mu2 + s2 * torch.randn(n, d, generator=g, dtype=torch.float64)
    want = (mu1 - mu2).square().sum().item() + d * (s1**2 + s2**2) - lam * d * s1**2
    mean, se = _mean_and_se(energy_score(samples, target, beta=2.0, lam=lam))
    assert abs(mean - want) < 4 * se


def _enumerate(atoms_p, probs_p, atoms_q, probs_q, m):
    """Every (m-tuple from P, y from Q) as a batch, with its probability."""
    tuples = list(itertools.product(range(len(probs_p)), repeat=m))
    rows = [(t, k) for t in tuples for k in range(len(probs_q))]
    samples = torch.stack([atoms_p[list(t)] for t, _ in rows])
    target = torch.stack([atoms_q[k] for _, k in rows])
    weight = torch.tensor([math.prod(probs_p[i] for i in t) * probs_q[k] for t, k in rows], dtype=torch.float64)
    return samples, target, weight


ATOMS_P = torch.tensor([[0.0, 0.0], [1.0, 0.5], [-0.5, 2.0]], dtype=torch.float64)
PROBS_P = [0.5, 0.3, 0.2]
ATOMS_Q = torch.tensor([[0.2, 0.1], [1.5, -0.5]], dtype=torch.float64)
PROBS_Q = [0.6, 0.4]


def _brute_mean(f, atoms_a, probs_a, atoms_b, probs_b) -> float:
    return sum(pa * pb * f(a, b) for a, pa in zip(atoms_a, probs_a) for b, pb in zip(atoms_b, probs_b))


@pytest.mark.parametrize("beta", [0.5, 1.0, 2.0])
def test_energy_exact_expectation_on_discrete_case(beta):
    samples, target, w = _enumerate(ATOMS_P, PROBS_P, ATOMS_Q, PROBS_Q, m=3)
    got = (w * energy_score(samples, target, beta=beta, lam=1.0, eps=1e-200)).sum().item()
    dist = lambda a, b: torch.linalg.vector_norm(a - b).item() ** beta  # noqa: E731
    want = _brute_mean(dist, ATOMS_P, PROBS_P, ATOMS_Q, PROBS_Q) - 0.5 * _brute_mean(
        dist, ATOMS_P, PROBS_P, ATOMS_P, PROBS_P
    )
    assert got == pytest.approx(want, rel=1e-10)


@pytest.mark.parametrize("kernel", ["rbf", "imq"])
def test_kernel_expectation_is_half_mmd2_minus_constant(kernel):
    h = 0.8
    k = {
        "rbf": lambda a, b: math.exp(-torch.sum((a - b) ** 2).item() / (2 * h**2)),
        "imq": lambda a, b: (1 + torch.sum((a - b) ** 2).item() / h**2) ** -0.5,
    }[kernel]
    samples, target, w = _enumerate(ATOMS_P, PROBS_P, ATOMS_Q, PROBS_Q, m=2)
    got = (w * kernel_score(samples, target, kernel=kernel, bandwidth=h, lam=1.0)).sum().item()
    kpp = _brute_mean(k, ATOMS_P, PROBS_P, ATOMS_P, PROBS_P)
    kqq = _brute_mean(k, ATOMS_Q, PROBS_Q, ATOMS_Q, PROBS_Q)
    kpq = _brute_mean(k, ATOMS_P, PROBS_P, ATOMS_Q, PROBS_Q)
    mmd2 = kpp + kqq - 2 * kpq
    assert got == pytest.approx(0.5 * mmd2 - 0.5 * kqq, rel=1e-10)


# --- propriety -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "rule,kw",
    [
        ("energy", {"beta": 1.0}),
        ("energy", {"beta": 0.5}),
        ("kernel", {"kernel": "rbf"}),
        ("kernel", {"kernel": "imq"}),
    ],
)
def test_expected_score_is_minimised_at_the_target_distribution(rule, kw):
    n, m = 40_000, 4
    g = _gen(6)
    target = torch.randn(n, 1, generator=g, dtype=torch.float64)
    noise = torch.randn(n, m, 1, generator=g, dtype=torch.float64)  # common random numbers
    candidates = {"true": noise, "shifted": 0.7 + noise, "narrow": 0.3 * noise}
    scores = {name: scoring_loss(x, target, rule=rule, lam=1.0, **kw) for name, x in candidates.items()}
    for name in ("shifted", "narrow"):
        mean, se = _mean_and_se(scores[name] - scores["true"])
        assert mean > 5 * se, name


def test_lam0_is_not_proper_narrow_wins():
    # The check above can fail: without the interaction term a point mass at the mean wins.
    g = _gen(7)
    target = torch.randn(20_000, 1, generator=g)
    noise = torch.randn(20_000, 4, 1, generator=g)
    true = energy_score(noise, target, lam=0.0).mean()
    narrow = energy_score(0.3 * noise, target, lam=0.0).mean()
    assert narrow < true - 0.1


# --- gradients -------------------------------------------------------------------------------------


@pytest.mark.parametrize("beta", [0.5, 1.0, 1.5, 2.0])
def test_energy_gradients_finite_when_points_coincide(beta):
    target = torch.tensor([[1.0, 2.0], [0.0, 0.0]])
    samples = torch.tensor(
        [
            [[1.0, 2.0], [1.0, 2.0], [3.0, 0.0]],  # two samples == target
            [[0.5, 0.5], [0.5, 0.5], [0.5, 0.5]],
        ]
    )  # all samples coincide
    samples.requires_grad_(True)
    target.requires_grad_(True)
    energy_score(samples, target, beta=beta).sum().backward()
    assert torch.isfinite(samples.grad).all() and torch.isfinite(target.grad).all()
    assert samples.grad.abs().sum() > 0


@pytest.mark.parametrize("kernel", ["rbf", "imq"])
@pytest.mark.parametrize("bandwidth", [1.0, None])
def test_kernel_gradients_finite_when_points_coincide(kernel, bandwidth):
    target = torch.zeros(2, 3)
    samples = torch.zeros(2, 3, 3, requires_grad=True)  # all distances zero, median too
    loss = kernel_score(samples, target, kernel=kernel, bandwidth=bandwidth)
    loss.sum().backward()
    assert torch.isfinite(loss).all() and torch.isfinite(samples.grad).all()


# --- kernel values and bandwidth ------------------------------------------------------------------


def test_kernel_values_by_hand():
    target = torch.tensor([[0.0, 0.0]])
    samples = torch.tensor([[[3.0, 4.0], [0.0, 1.0]]])  # d²: to target 25 and 1; pair 18
    h, lam = 2.0, 0.6
    rbf = lambda d2: math.exp(-d2 / (2 * h**2))  # noqa: E731
    imq = lambda d2: (1 + d2 / h**2) ** -0.5  # noqa: E731
    for name, k in (("rbf", rbf), ("imq", imq)):
        want = lam / 2 * k(18) - (k(25) + k(1)) / 2
        got = kernel_score(samples, target, kernel=name, bandwidth=h, lam=lam)
        assert got.item() == pytest.approx(want, rel=1e-6), name


def test_median_bandwidth_is_detached_and_matches_explicit():
    target = torch.zeros(1, 1)
    samples = torch.tensor([[[1.0], [3.0], [6.0]]])  # distances: 1, 3, 6 (target); 2, 5, 3 (pairs)
    assert median_bandwidth(samples, target).item() == pytest.approx(3.0)
    a = samples.clone().requires_grad_(True)
    b = samples.clone().requires_grad_(True)
    la = kernel_score(a, target, bandwidth=None)
    lb = kernel_score(b, target, bandwidth=3.0)
    torch.testing.assert_close(la, lb)
    la.sum().backward()
    lb.sum().backward()
    torch.testing.assert_close(a.grad, b.grad)


# --- shapes, dispatch and errors ------------------------------------------------------------------


@pytest.mark.parametrize("rule", ["energy", "kernel"])
def test_image_shapes_match_flattened(rule):
    g = _gen(8)
    samples, target = torch.randn(3, 4, 2, 5, 5, generator=g), torch.randn(3, 2, 5, 5, generator=g)
    img = scoring_loss(samples, target, rule=rule)
    flat = scoring_loss(samples.flatten(2), target.flatten(1), rule=rule)
    assert img.shape == (3,)
    torch.testing.assert_close(img, flat)


def test_dispatch_matches_direct_calls_and_half_inputs_upcast():
    g = _gen(9)
    samples, target = torch.randn(2, 3, 4, generator=g), torch.randn(2, 4, generator=g)
    torch.testing.assert_close(
        scoring_loss(samples, target, rule="energy", beta=0.7, lam=0.5),
        energy_score(samples, target, beta=0.7, lam=0.5),
    )
    torch.testing.assert_close(
        scoring_loss(samples, target, rule="kernel", kernel="imq", bandwidth=2.0),
        kernel_score(samples, target, kernel="imq", bandwidth=2.0),
    )
    assert energy_score(samples.half(), target.half()).dtype == torch.float32


def test_single_sample_allowed_only_without_interaction():
    samples, target = torch.randn(2, 1, 4), torch.randn(2, 4)
    assert energy_score(samples, target, lam=0.0).shape == (2,)
    assert kernel_score(samples, target, lam=0.0, bandwidth=None).shape == (2,)
    with pytest.raises(DifflabError, match="m >= 2"):
        energy_score(samples, target, lam=1.0)
    with pytest.raises(DifflabError, match="m >= 2"):
        kernel_score(samples, target)


@pytest.mark.parametrize(
    "call,match",
    [
        (lambda s, t: energy_score(s, t[:, :3]), "do not match"),
        (lambda s, t: energy_score(s[:1], t), "do not match"),
        (lambda s, t: energy_score(s[:, 0], t), r"\(B, m, \*shape\)"),
        (lambda s, t: energy_score(s, t, beta=0.0), "beta"),
        (lambda s, t: energy_score(s, t, beta=2.5), "beta"),
        (lambda s, t: energy_score(s, t, lam=-0.1), "lam"),
        (lambda s, t: energy_score(s, t, lam=1.5), "lam"),
        (lambda s, t: energy_score(s, t, eps=0.0), "eps"),
        (lambda s, t: kernel_score(s, t, bandwidth=0.0), "bandwidth"),
        (lambda s, t: kernel_score(s, t, kernel="laplace"), "kernel"),
        (lambda s, t: scoring_loss(s, t, rule="crps"), "rule"),
        (lambda s, t: scoring_loss(s, t, rule="energy", kernel="rbf"), "unknown option"),
    ],
)
def test_bad_inputs_raise(call, match):
    with pytest.raises(DifflabError, match=match):
        call(torch.randn(2, 3, 4), torch.randn(2, 4))
