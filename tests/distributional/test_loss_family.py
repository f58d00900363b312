"""The paper's loss family on closed forms: energy score of a Gaussian, propriety, kernel limits,
the joint and marginal forms, data-space vs whitened energy, and the time weight w(t)."""

import math

import pytest
import torch
from scipy.stats import norm

from difflab.config import load_config
from difflab.config.schema import RunConfig
from difflab.errors import DifflabError
from difflab.models.denoiser import Denoiser
from difflab.nn import MLP
from difflab.objectives.distributional import distributional_loss
from difflab.objectives.scoring import energy_score, joint_energy_score, kernel_score, marginal_energy_score
from difflab.process.factory import build_process


def _crps_gaussian(mu: float, sigma: float, y: torch.Tensor) -> torch.Tensor:
    """CRPS of N(μ, σ²) at y (Gneiting & Raftery 2007, eq. 21) = the 1-D energy score, β = 1, λ = 1."""
    z = (y - mu) / sigma
    return sigma * (z * (2 * norm.cdf(z) - 1) + 2 * norm.pdf(z) - 1 / math.sqrt(math.pi))


def test_energy_score_of_a_gaussian_matches_the_crps_closed_form():
    g = torch.Generator().manual_seed(0)
    y = torch.tensor([[-1.5], [0.0], [0.7], [2.5]], dtype=torch.float64)
    samples = 0.5 + 1.3 * torch.randn(4, 1000, 1, generator=g, dtype=torch.float64)
    got = energy_score(samples, y, beta=1.0, lam=1.0)
    want = torch.as_tensor(_crps_gaussian(0.5, 1.3, y[:, 0].numpy()))
    torch.testing.assert_close(got, want, atol=0.08, rtol=0.0)


def test_beta2_energy_score_of_a_gaussian_is_bias_plus_one_minus_lambda_trace():
    # E‖X − y‖² − (λ/2) E‖X − X′‖² = ‖μ − y‖² + (1 − λ) tr Σ for X ~ N(μ, Σ)
    g = torch.Generator().manual_seed(1)
    mu, scale = torch.tensor([1.0, -2.0, 0.5]), torch.tensor([0.5, 1.0, 2.0])
    y = torch.tensor([[0.0, 0.0, 0.0]])
    samples = mu + scale * torch.randn(1, 1500, 3, generator=g)
    for lam in (0.0, 0.5, 1.0):
        want = ((mu - y) ** 2).sum() + (1 - lam) * (scale**2).sum()
        torch.testing.assert_close(energy_score(samples, y, beta=2.0, lam=lam)[0], want, rtol=0.08, atol=0.0)


@pytest.mark.parametrize("lam", [1.0, 0.5])
def test_expected_energy_score_is_minimised_at_the_closed_form_spread(lam):
    # y ~ N(0, 1), P = N(0, s²): E S = √(2/π) √(1 + s²) − λ s / √π, minimised at s* = λ / √(2 − λ²)
    # (s* = 1 for λ = 1: propriety; λ < 1 rewards an under-dispersed P).
    g = torch.Generator().manual_seed(2)
    y = torch.randn(20000, 1, generator=g, dtype=torch.float64)
    z = torch.randn(20000, 8, 1, generator=g, dtype=torch.float64)  # common random numbers across s
    s_star = lam / math.sqrt(2 - lam**2)
    spreads = [0.5 * s_star, s_star, 2 * s_star]
    got = [energy_score(s * z, y, beta=1.0, lam=lam).mean().item() for s in spreads]
    closed = [math.sqrt(2 / math.pi) * math.sqrt(1 + s * s) - lam * s / math.sqrt(math.pi) for s in spreads]
    assert got[1] < got[0] and got[1] < got[2]
    for a, b in zip(got, closed):
        assert abs(a - b) < 0.02


@pytest.mark.parametrize(("kernel", "beta", "scale"), [("rbf", 2.0, 2), ("imq", 2.0, 2), ("exp", 1.0, 1)])
def test_wide_kernels_reduce_to_an_energy_score_and_only_rbf_imq_to_the_mse(kernel, beta, scale):
    # k = 1 − d²/2h² (RBF, IMQ) or 1 − d/h (exp) + ...: (kernel score − (λ/2 − 1)) × h^scale × c → energy score
    g = torch.Generator().manual_seed(3)
    samples = torch.randn(5, 6, 3, generator=g, dtype=torch.float64)
    y = torch.randn(5, 3, generator=g, dtype=torch.float64)
    h, lam = (1e3 if scale == 2 else 1e6), 0.7  # the error is O(d²/h²) resp. O(d/h) relative
    ks = kernel_score(samples, y, kernel=kernel, bandwidth=h, lam=lam) - (lam / 2 - 1)
    limit = ks * (2 * h**2 if scale == 2 else h)
    torch.testing.assert_close(limit, energy_score(samples, y, beta=beta, lam=lam), rtol=1e-3, atol=1e-6)
    if kernel == "exp":  # not diffusion-compatible: no scaling of the wide exp kernel gives the β = 2 (MSE) score
        ratio = limit / energy_score(samples, y, beta=2.0, lam=lam)
        assert ratio.std() > 0.05


def test_joint_and_marginal_forms_with_one_data_point_are_the_conditional_score():
    g = torch.Generator().manual_seed(4)
    s, y, c = torch.randn(1, 5, 3, generator=g), torch.randn(1, 3, generator=g), torch.randn(1, 2, generator=g)
    want = energy_score(s, y, beta=1.5, lam=0.8)
    torch.testing.assert_close(joint_energy_score(s, y, c, beta=1.5, lam=0.8), want)
    torch.testing.assert_close(marginal_energy_score(s, y, beta=1.5, lam=0.8), want)


def test_marginal_form_ignores_which_data_point_a_draw_belongs_to_and_the_joint_form_does_not():
    g = torch.Generator().manual_seed(5)
    s, y, c = torch.randn(6, 3, 2, generator=g), torch.randn(6, 2, generator=g), torch.randn(6, 2, generator=g)
    perm = torch.tensor([3, 0, 5, 1, 2, 4])
    torch.testing.assert_close(marginal_energy_score(s, y[perm]).mean(), marginal_energy_score(s, y).mean())
    assert not torch.allclose(joint_energy_score(s, y[perm], c).mean(), joint_energy_score(s, y, c).mean())
    # identical conditioning: the joint interaction is the marginal one; the confinements are own-target vs all
    same = torch.zeros(6, 2)
    conf_joint, conf_marg = joint_energy_score(s, y, same, lam=0.0), marginal_energy_score(s, y, lam=0.0)
    torch.testing.assert_close(
        joint_energy_score(s, y, same) - marginal_energy_score(s, y), conf_joint - conf_marg, rtol=1e-5, atol=1e-6
    )


def test_joint_form_allows_one_draw_per_data_point_and_the_conditional_does_not():
    s, y, c = torch.randn(4, 1, 2), torch.randn(4, 2), torch.randn(4, 3)
    assert torch.isfinite(joint_energy_score(s, y, c)).all()
    with pytest.raises(DifflabError, match="m >= 2"):
        energy_score(s, y)
    with pytest.raises(DifflabError, match="cond"):
        joint_energy_score(s, y, c[:2])


def _model(process, dim):
    torch.manual_seed(0)
    return Denoiser(MLP(dim=dim, hidden=16, depth=2, extra_dim=dim), process, prediction="x0", generator_noise=True)


@pytest.mark.parametrize(("basis", "prior"), [("pixel", "white"), ("dct", "data")])
def test_data_space_energy_is_the_score_of_data_layout_draws(basis, prior):
    torch.manual_seed(6)
    dim, b, m = 8, 4, 3
    data = torch.randn(256, dim) * torch.linspace(0.1, 3.0, dim)
    process = build_process((dim,), basis=basis, prior=prior, data=data)
    model = _model(process, dim)
    x0, t = data[:b], torch.tensor([0.1, 0.4, 0.6, 0.9])
    eps, xi = torch.randn(b, dim), torch.randn(b * m, dim)
    data_loss = distributional_loss(model, x0, t, eps, xi, m=m, space="data")
    white_loss = distributional_loss(model, x0, t, eps, xi, m=m, space="white")
    x_t = process.from_white(process.noise_white(process.to_white(x0), t, eps))
    draws = model(x_t.repeat_interleave(m, 0), t.repeat_interleave(m, 0), xi=xi).reshape(b, m, dim)
    torch.testing.assert_close(data_loss, energy_score(draws, x0))
    if prior == "white":  # orthonormal basis, S = 1: the norms agree
        torch.testing.assert_close(data_loss, white_loss, rtol=1e-4, atol=1e-5)
    else:
        assert (data_loss - white_loss).abs().max() > 1e-2


def test_snr_plus_one_weight_turns_the_x0_mse_into_the_v_mse():
    # ‖v̂ − v‖² = ‖ŵ₀ − w₀‖² / σ² = (SNR + 1) ‖ŵ₀ − w₀‖² at fixed w_t (α² + σ² = 1)
    torch.manual_seed(7)
    dim, b, m = 4, 5, 2
    process = build_process((dim,), schedule="cosine")
    model = _model(process, dim)
    x0, t = torch.randn(b, dim), torch.tensor([0.05, 0.3, 0.5, 0.7, 0.95])
    eps, xi = torch.randn(b, dim), torch.randn(b * m, dim)
    kw = dict(m=m, beta=2.0, lam=0.0)
    plain = distributional_loss(model, x0, t, eps, xi, **kw)
    weighted = distributional_loss(model, x0, t, eps, xi, time_weight="snr_plus_one", **kw)
    _, sigma = process.alpha_sigma(t.double())
    torch.testing.assert_close(weighted, plain / sigma[:, 0].float() ** 2, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["method.loss_form=joint", "method.rule=kernel"], "rule=energy"),
        (["method.kind=regression", "method.time_weight=snr_plus_one"], "kind=distributional"),
    ],
)
def test_config_refuses_meaningless_loss_options(overrides, message):
    with pytest.raises(DifflabError, match=message):
        load_config(RunConfig, "configs/toy2d-distributional.yaml", overrides)


def test_config_accepts_one_draw_per_data_point_for_the_joint_form_only():
    cfg = load_config(RunConfig, "configs/toy2d-distributional.yaml", ["method.loss_form=joint", "method.m=1"])
    assert cfg.method.m == 1 and cfg.method.loss_form == "joint"
    with pytest.raises(DifflabError, match="m must be >= 2"):
        load_config(RunConfig, "configs/toy2d-distributional.yaml", ["method.m=1"])
