"""Deterministic (zero-variance) components: ``process.deterministic_tol``.

Oracle: a Gaussian on (1, 4, 4) whose pixel 0 is a constant (digits' border in miniature). Centred, that
pixel has variance 0; without the option its floored variance (1e-12) dominates the variance labels and
stretches Δγ; with it the pixel is pinned, the schedule is set by the live components only (closed form),
samplers reproduce the degenerate Gaussian's moments, and the likelihood is the exact log-density of the
15 live components.
"""

import functools
import math

import pytest
import torch

from difflab.data.base import Normaliser
from difflab.errors import DifflabError
from difflab.metrics.likelihood import bits_per_dim, ode_log_likelihood
from difflab.models.denoiser import Denoiser
from difflab.objectives.regression import regression_loss
from difflab.process.factory import build_process, empty_process_like
from difflab.process.oracles import GaussianOracle
from difflab.sampling import SAMPLERS, uniform
from difflab.sampling.moments import sampler_output_moments

SHAPE, D, CONST = (1, 4, 4), 16, 0.7
SOFT = {"schedule": "soft", "softness": 0.3, "ordering": "variance", "soft_form": "gud_code", "center": True}


@functools.cache
def _target() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    q, _ = torch.linalg.qr(torch.randn(D - 1, D - 1, generator=g, dtype=torch.float64))
    live = q @ torch.diag(2.0 * torch.arange(1, D, dtype=torch.float64) ** -1.5) @ q.T
    cov = torch.zeros(D, D, dtype=torch.float64)
    cov[1:, 1:] = live
    mean = 0.5 * torch.randn(D, generator=g, dtype=torch.float64)
    mean[0] = CONST
    return mean, cov


@functools.cache
def _data(n: int = 4096, seed: int = 1) -> torch.Tensor:
    mean, cov = _target()
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(n, D - 1, generator=g, dtype=torch.float64) @ torch.linalg.cholesky(cov[1:, 1:]).T
    return (mean + torch.cat([torch.zeros(n, 1, dtype=torch.float64), z], 1)).reshape(n, *SHAPE)


def _process(basis: str = "pixel", prior: str = "white", tol: float = 1e-6, **opts):
    return build_process(SHAPE, basis=basis, prior=prior, deterministic_tol=tol, data=_data(), **{**SOFT, **opts})


@pytest.mark.parametrize("basis", ["pixel", "pca"])
def test_the_constant_component_is_found_and_the_labels_ignore_it(basis):
    p, off = _process(basis), _process(basis, tol=0.0)
    assert int(p.deterministic.sum()) == 1 and p.active_dim == D - 1
    if basis == "pixel":
        assert bool(p.deterministic[0])
    # gud_code, white prior, variance labels l = −log Σ: L = (1 − a) log Σ, Δγ = γ̃n − γ̃d + (a − 1) range(log Σ)
    var = p.basis.to_components(_data() - _data().mean(0)).var(0, correction=0)[~p.deterministic]
    a = 1 / SOFT["softness"]
    expected = 3.0 - (-7.0) + (a - 1) * float(var.max().log() - var.min().log())
    assert float(p.schedule.delta) == pytest.approx(expected, rel=1e-9)
    assert float(off.schedule.delta) > 2 * expected  # the floored 1e-12 variance stretches Δγ


def test_zero_tolerance_and_no_data_are_handled():
    assert _process(tol=0.0).deterministic is None and _process(tol=0.0).active is None
    with pytest.raises(DifflabError, match="deterministic_tol needs training data"):
        build_process(SHAPE, deterministic_tol=1e-6)
    with pytest.raises(DifflabError, match="constant"):
        build_process(SHAPE, deterministic_tol=1e-6, data=torch.zeros(4, *SHAPE))


def test_the_mask_survives_a_checkpoint_round_trip():
    p = _process("pca", "data")
    q = empty_process_like(p)
    assert not q.deterministic.any()
    q.load_state_dict(p.state_dict())
    assert torch.equal(q.deterministic, p.deterministic) and q.active_dim == D - 1


class _Garbage(torch.nn.Module):
    """A network whose output is large everywhere, with an extra ``bump`` on pixel 0."""

    def __init__(self, bump: float = 0.0):
        super().__init__()
        self.bump = bump

    def forward(self, x, t, **kw):
        out = 5.0 + 3 * x
        out[:, 0, 0, 0] += self.bump
        return out


@pytest.mark.parametrize("prediction", ["v", "eps", "x0", "eps_gud"])
def test_the_denoiser_pins_and_the_loss_ignores_the_constant_pixel(prediction):
    p = _process("pixel", "data")
    den = Denoiser(_Garbage(), p, prediction=prediction)
    x_t = torch.randn(3, *SHAPE, dtype=torch.float64)
    x0 = den(x_t, torch.full((3,), 0.4))
    assert torch.allclose(x0[:, 0, 0, 0], torch.full((3,), CONST, dtype=torch.float64), atol=1e-12)
    assert not torch.allclose(x0[:, 0, 0, 1], torch.full((3,), CONST, dtype=torch.float64))
    x, eps, t = _data()[:3], torch.randn(3, D, dtype=torch.float64), torch.full((3,), 0.5)
    base = regression_loss(den, x, t, eps)
    bumped = regression_loss(Denoiser(_Garbage(bump=10.0), p, prediction=prediction), x, t, eps)
    assert torch.isfinite(base).all() and torch.allclose(base, bumped)
    unpinned = _process("pixel", "data", tol=0.0)
    assert not torch.allclose(
        regression_loss(Denoiser(_Garbage(), unpinned, prediction=prediction), x, t, eps),
        regression_loss(Denoiser(_Garbage(bump=10.0), unpinned, prediction=prediction), x, t, eps),
    )


@pytest.mark.parametrize("sampler", ["heun", "dpmpp2m", "euler", "ddim"])
@pytest.mark.parametrize(("basis", "prior"), [("pixel", "white"), ("pixel", "data"), ("pca", "white")])
def test_samplers_reproduce_the_degenerate_gaussian(sampler, basis, prior):
    p = _process(basis, prior)
    oracle = GaussianOracle(p, *_target())
    steps = 256 if sampler in ("heun", "dpmpp2m", "ddim") else 128
    mean, cov = sampler_output_moments(
        SAMPLERS[sampler],
        oracle,
        p,
        uniform(steps),
        noise_draws=0 if sampler != "euler" else None,
        start=oracle.white_marginal(1.0),
    )
    m0, c0 = _target()
    assert torch.isfinite(cov).all()
    cov_err = float((cov - c0).norm() / c0.norm())
    assert cov_err <= {"heun": 0.002, "dpmpp2m": 0.002, "euler": 0.03, "ddim": 0.03}[sampler], cov_err
    assert float((mean - m0).norm()) <= 0.01
    assert float(cov[0].abs().max()) <= 1e-4  # the constant pixel stays constant


def _live_log_density(p, oracle, x, t=0.0):
    """Exact log density of the live components of the process at t, normalised layout."""
    m, c = oracle.white_marginal(t)
    live = p.active
    mvn = torch.distributions.MultivariateNormal(m[live], c[live][:, live])
    return mvn.log_prob(p.to_white(x)[:, live]) - p.scale[live].log().sum()


@pytest.mark.parametrize(("basis", "prior"), [("pixel", "white"), ("pixel", "data"), ("pca", "white"), ("pca", "data")])
def test_likelihood_is_the_exact_density_of_the_live_components(basis, prior):
    p = _process(basis, prior)
    oracle = GaussianOracle(p, *_target())
    m1, c1 = oracle.white_marginal(1.0)
    live = p.active
    prior1 = torch.distributions.MultivariateNormal(m1[live], c1[live][:, live]).log_prob
    x = _data(6, seed=5)
    res = ode_log_likelihood(oracle, p, x, dtype=torch.float64, prior_logpdf=prior1)
    assert res.dim == D - 1 and torch.isfinite(res.log_px).all()
    err = float((res.log_px - _live_log_density(p, oracle, x)).abs().max()) / ((D - 1) * math.log(2))
    assert err <= 0.01, f"{basis}/{prior}: {err:.2e} bits/dim"
    # An input off the constant is projected onto it: same value, counted as off the support.
    bumped = x.clone()
    bumped[:, 0, 0, 0] += 0.3
    res2 = ode_log_likelihood(oracle, p, bumped, dtype=torch.float64, prior_logpdf=prior1)
    assert torch.allclose(res2.log_px, res.log_px, atol=1e-6)
    norm = Normaliser(shift=0.0, scale=2.0, value_range=(-10.0, 10.0))
    bpd = bits_per_dim(oracle, p, bumped[:2], norm, dtype=torch.float64, prior_logpdf=prior1)
    assert bpd["dims"] == D - 1 and bpd["deterministic_dims"] == 1 and bpd["off_support"] == 2
    expected = -(res.log_px[:2] - (D - 1) * math.log(2.0)) / ((D - 1) * math.log(2))
    assert bpd["bits_per_dim"] == pytest.approx(float(expected.mean()), abs=1e-4)


def test_the_process_prior_likelihood_is_finite_and_not_stiff():
    """With the process's own N(0, I) prior (no oracle prior) at softness 0.1: finite, modest NFE."""
    p = _process("pixel", "white", softness=0.1)
    oracle = GaussianOracle(p, *_target())
    res = ode_log_likelihood(oracle, p, _data(4, seed=7), dtype=torch.float64)
    assert torch.isfinite(res.log_px).all() and res.nfe < 2000
