"""Component-wise schedules: the GUD formulas, limits, separation, derivatives."""

import math

import pytest
import torch

from difflab.errors import DifflabError
from difflab.process.bases.registry import build_basis
from difflab.process.schedules.registry import build_schedule
from difflab.process.schedules.scalar import LinearGamma
from difflab.process.schedules.sequential import Sequential
from difflab.process.schedules.soft import SoftConditioning

LABELS = build_basis("dct", (1, 4, 4)).labels
POSITIONS = build_basis("pixel", (2, 4, 6)).positions


def test_soft_matches_reference_formula():
    g = torch.Generator().manual_seed(0)
    labels = torch.rand(7, generator=g, dtype=torch.float64)
    var = torch.rand(7, generator=g, dtype=torch.float64) + 0.1
    s = SoftConditioning(labels, var, softness=0.5, gamma_denoise=-6.0, gamma_noise=2.0)
    a, lmax, lmin = 2.0, labels.max(), labels.min()
    t = torch.tensor([0.0, 0.3, 1.0], dtype=torch.float64)
    expected = -6.0 + var.log() + a * (labels - lmax) + t[:, None] * (8.0 + a * (lmax - lmin))
    assert torch.allclose(s.gamma(t), expected, atol=1e-12)
    # endpoints: highest label starts at γ̃_denoise, lowest ends at γ̃_noise (before log Σ)
    g0, g1 = s.gamma(torch.tensor(0.0)) - var.log(), s.gamma(torch.tensor(1.0)) - var.log()
    assert math.isclose(g0[labels.argmax()], -6.0) and math.isclose(g1[labels.argmin()], 2.0, abs_tol=1e-12)


def test_soft_infinite_softness_is_scalar_linear():
    s = SoftConditioning(LABELS, torch.ones(16), softness=math.inf)
    lin = LinearGamma(-7.0, 3.0)
    t = torch.linspace(0, 1, 11, dtype=torch.float64)
    assert torch.allclose(s.gamma(t), lin.gamma(t).expand(11, 16), atol=1e-12)
    assert torch.allclose(s.beta(t), lin.beta(t).expand(11, 16), atol=1e-12)


def test_soft_small_softness_separates_windows():
    """softness 0.01: once the coarsest group starts noising, the finest is already pure noise."""
    lo, hi = -5.0, 3.0  # "started noising" (SNR below e^5) and "fully noised" (γ̃_noise)
    s = SoftConditioning(LABELS, torch.ones(16), softness=0.01)
    g = s.gamma(torch.linspace(0, 1, 2001, dtype=torch.float64))
    coarse, fine = g[:, LABELS == LABELS.min()], g[:, LABELS == LABELS.max()]
    started = (coarse > lo).any(1)
    assert started.any() and (~started).any()
    assert torch.all(fine[started] >= hi)
    # generation order: while the finest is being denoised (γ < hi), the coarsest is already clean
    finest_active = (fine < hi).all(1)
    assert finest_active.any() and torch.all(coarse[finest_active] <= lo)


def test_variance_ordering_labels_and_validation():
    var = torch.tensor([4.0, 1.0, 0.25], dtype=torch.float64)
    s = build_schedule("soft", data_var=torch.ones(3), softness=1.0, ordering="variance", component_var=var)
    g = s.gamma(torch.tensor(0.5))
    assert g[0] < g[1] < g[2]  # large variance keeps the highest SNR (generated first)
    with pytest.raises(DifflabError, match="softness must be > 0"):
        SoftConditioning(LABELS, torch.ones(16), softness=0.0)
    with pytest.raises(DifflabError, match="positive"):
        SoftConditioning(LABELS, torch.zeros(16))


def test_soft_state_dict_round_trip():
    s = SoftConditioning(LABELS, torch.rand(16, dtype=torch.float64) + 0.5, softness=0.3)
    p = SoftConditioning.placeholder(16)
    with pytest.raises(DifflabError, match="no fitted state"):
        p.gamma(torch.tensor(0.5))
    p.load_state_dict(s.state_dict())
    assert torch.equal(p.gamma(torch.tensor([0.2, 0.7])), s.gamma(torch.tensor([0.2, 0.7])))


def test_sequential_columns_generate_left_to_right():
    s = Sequential(POSITIONS, axis="column", softness=0.01, gamma_min=-10.0, gamma_max=5.0)
    t = torch.linspace(0, 1, 4001, dtype=torch.float64)
    g = s.gamma(t).reshape(len(t), 2, 4, 6)
    beta = s.beta(t).reshape(len(t), 2, 4, 6)
    assert torch.equal(g[..., 0, :], g[..., 3, :])  # all rows of a column share a schedule
    for left in range(5):
        right = left + 1
        # while the right column is not fully noise (still being generated), the left one is clean
        busy_right = g[:, 0, 0, right] < 5.0
        assert busy_right.any() and (g[:, 0, 0, left] > -10.0).any()
        assert torch.all(g[busy_right, 0, 0, left] == -10.0)
    clipped = (g <= -10.0) | (g >= 5.0)
    assert torch.all(beta[clipped] == 0) and torch.all(beta[~clipped] > 0)
    # every component starts clean and ends at γ_max
    assert torch.all(g[0] == -10.0) and torch.allclose(g[-1], torch.full_like(g[-1], 5.0), atol=1e-9)


@pytest.mark.parametrize("softness", [math.inf, 2.0, 0.5, 0.01])
@pytest.mark.parametrize("axis", ["row", "column"])
def test_sequential_reaches_gamma_max(softness, axis):
    s = Sequential(POSITIONS, axis=axis, softness=softness)
    assert torch.allclose(s.gamma(torch.tensor(1.0)), torch.full((48,), 5.0, dtype=torch.float64), atol=1e-9)
    assert torch.all(s.gamma(torch.tensor(0.0)) == -13.3)
    assert s.tau_max == (0.0 if math.isinf(softness) else min(1 / softness, 0.99))


def test_sequential_infinite_softness_is_linear():
    s = Sequential(POSITIONS, softness=math.inf)
    t = torch.linspace(0, 1, 9, dtype=torch.float64)
    assert torch.allclose(s.gamma(t), LinearGamma().gamma(t).expand(9, 48), atol=1e-12)


SCHEDULES = {
    "linear": dict(),
    "cosine": dict(),
    "ddpm": dict(),
    "soft": dict(labels=LABELS, data_var=torch.rand(16, dtype=torch.float64) + 0.5, softness=0.2),
    "sequential": dict(positions=build_basis("pixel", (1, 4, 4)).positions, softness=2.0),
}


@pytest.mark.parametrize("name", list(SCHEDULES))
def test_analytic_derivative_matches_autograd(name):
    s = build_schedule(name, **SCHEDULES[name])
    # interior times away from clip kinks
    t = torch.tensor([0.013, 0.21, 0.377, 0.52, 0.69, 0.83, 0.97], dtype=torch.float64)
    jac = torch.autograd.functional.jacobian(lambda tt: s.gamma(tt).sum(0), t)  # (D, T)
    assert torch.allclose(s.dgamma_dt(t), jac.T, rtol=1e-7, atol=1e-8)


def test_build_schedule_errors():
    with pytest.raises(DifflabError, match="unknown schedule"):
        build_schedule("exp")
    with pytest.raises(DifflabError, match="positions"):
        build_schedule("sequential")
    with pytest.raises(DifflabError, match="data variances"):
        build_schedule("soft", labels=LABELS)
    with pytest.raises(DifflabError, match="softness and ordering"):
        build_schedule("cosine", softness=1.0)
    with pytest.raises(DifflabError, match="beta_min"):
        build_schedule("ddpm", gamma_min=-10.0)
    g = build_schedule("linear", gamma_min=-5.0, gamma_max=4.0).gamma(torch.tensor([0.0, 1.0], dtype=torch.float64))
    assert (float(g[0].min()), float(g[1].max())) == (-5.0, 4.0)  # the γ end points are the ones asked for
