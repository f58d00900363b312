"""The probability-flow ODE likelihood against closed forms on Gaussian data.

For x₀ ~ N(μ, C) every marginal of the process is Gaussian, so the exact log-density of the process
at t = 0 is known (``GaussianOracle.white_marginal``). With the exact terminal marginal as the prior the
ODE must reproduce it in every basis, prior and schedule; with the process's own N(0, I) prior and a
scalar schedule the flow map is affine per eigen-direction of K and the model density is closed form too.
"""

import math

import pytest
import torch

from difflab.data.base import Normaliser
from difflab.errors import DifflabError
from difflab.metrics.likelihood import bits_per_dim, ode_log_likelihood
from difflab.process.factory import build_process
from difflab.process.oracles import GaussianOracle
from tests.sampling.gaussian_cases import (
    PRIORS,
    PROCESS_COMBOS,
    SHAPE,
    D,
    gaussian_data,
    gaussian_process,
    gaussian_target,
)

BPD = D * math.log(2)  # nats -> bits per dimension


def _data(n: int = 6, seed: int = 3) -> torch.Tensor:
    mean, cov = gaussian_target()
    g = torch.Generator().manual_seed(seed)
    return (mean + torch.randn(n, D, generator=g, dtype=torch.float64) @ torch.linalg.cholesky(cov).T).reshape(
        n, *SHAPE
    )


def _mvn(mean_cov) -> torch.distributions.MultivariateNormal:
    return torch.distributions.MultivariateNormal(*mean_cov)


def _exact_log_px(process, oracle, x, t=0.0) -> torch.Tensor:
    """log density of the process at time t, in the normalised data layout."""
    return _mvn(oracle.white_marginal(t)).log_prob(process.to_white(x)) - process.scale.log().sum()


@pytest.mark.parametrize("prior", PRIORS)
@pytest.mark.parametrize(("basis", "schedule", "opts"), PROCESS_COMBOS)
def test_exact_divergence_matches_the_gaussian_density(basis, schedule, opts, prior):
    process, oracle = gaussian_process(basis, schedule, prior)
    x = _data()
    res = ode_log_likelihood(
        oracle, process, x, dtype=torch.float64, prior_logpdf=_mvn(oracle.white_marginal(1.0)).log_prob
    )
    assert res.exact and (res.probe_se == 0).all()
    err = (res.log_px - _exact_log_px(process, oracle, x)).abs().max() / BPD
    assert err <= 0.01, f"{basis}/{schedule}/{prior}: {err:.2e} bits/dim"


def _affine_flow_log_px(process, oracle, x) -> torch.Tensor:
    """Model density under the N(0, I) prior for a scalar schedule: per eigen-direction of K the
    PF-ODE maps N(α₀ m, α₀² λ + σ₀²) affinely and monotonically onto N(α₁ m, α₁² λ + σ₁²)."""
    m, k = oracle.white_means[0], oracle.white_covs[0]
    lam, q = torch.linalg.eigh(k)
    (a0, s0), (a1, s1) = ((c[0] for c in process.alpha_sigma(torch.tensor(t, dtype=torch.float64))) for t in (0.0, 1.0))
    v0, v1 = a0**2 * lam + s0**2, a1**2 * lam + s1**2
    z = (process.to_white(x) - a0 * m) @ q  # coordinates along the eigenvectors
    w1 = a1 * (m @ q) + z * (v1 / v0).sqrt()  # the flow map, in eigen-coordinates (orthogonal: N(0, I) kept)
    log_jac = 0.5 * (v1 / v0).log().sum()
    return -0.5 * (w1**2).sum(1) - 0.5 * D * math.log(2 * math.pi) + log_jac - process.scale.log().sum()


@pytest.mark.parametrize("schedule", ["cosine", "linear", "ddpm"])
@pytest.mark.parametrize("prior", PRIORS)
@pytest.mark.parametrize("basis", ["pixel", "pca", "dct", "haar"])
def test_process_prior_matches_the_affine_flow(basis, prior, schedule):
    process = build_process(SHAPE, basis=basis, prior=prior, schedule=schedule, data=gaussian_data())
    oracle = GaussianOracle(process, *gaussian_target())
    x = _data()
    res = ode_log_likelihood(oracle, process, x, dtype=torch.float64)
    err = (res.log_px - _affine_flow_log_px(process, oracle, x)).abs().max() / BPD
    assert err <= 0.01, f"{basis}/{schedule}/{prior}: {err:.2e} bits/dim"
    # the prior term is the process's N(0, I) in whitened components
    assert torch.allclose(res.log_px, res.log_prior + res.delta - process.scale.log().sum())


@pytest.mark.parametrize(("basis", "prior"), [("pixel", "white"), ("pca", "data")])
def test_hutchinson_is_unbiased_within_its_standard_error(basis, prior):
    process, oracle = gaussian_process(basis, "cosine", prior)
    x = _data(n=4)
    exact = _exact_log_px(process, oracle, x)
    res = ode_log_likelihood(
        oracle,
        process,
        x,
        dtype=torch.float64,
        divergence="hutchinson",
        probes=64,
        prior_logpdf=_mvn(oracle.white_marginal(1.0)).log_prob,
    )
    assert not res.exact and (res.probe_se > 0).all()
    z = (res.log_px - exact) / res.probe_se
    assert z.abs().max() < 4.5, z
    # the per-sample probes are seeded by sample, not by batch
    again = ode_log_likelihood(
        oracle,
        process,
        x[1:3],
        dtype=torch.float64,
        divergence="hutchinson",
        probes=64,
        seeds=[7927 + i for i in (1, 2)],
        prior_logpdf=_mvn(oracle.white_marginal(1.0)).log_prob,
    )
    assert torch.allclose(again.log_px, res.log_px[1:3], atol=1e-2)  # solver tolerance; another seed moves it by ~SE


def test_dequantised_bits_per_dim_bound_the_discrete_probability():
    """Diagonal Gaussian on a grid of step q: P(bin) is a product of normal CDF differences, and the
    uniform-dequantisation bits/dim are an upper bound on −log₂ P / D, close to it for q ≪ std."""
    std = torch.linspace(0.6, 1.4, D, dtype=torch.float64)
    mean = torch.zeros(D, dtype=torch.float64)
    process = build_process(SHAPE, basis="pixel", schedule="cosine")
    oracle = GaussianOracle(process, mean, torch.diag(std**2))
    norm = Normaliser(shift=8.0, scale=8.0)  # raw = 8 x + 8; grid step 1 in raw units
    g = torch.Generator().manual_seed(0)
    raw = torch.round(8 * (std * torch.randn(6, D, generator=g, dtype=torch.float64)) + 8)
    x = norm.encode(raw).reshape(6, *SHAPE)
    out = bits_per_dim(oracle, process, x, norm, quantum=1.0, dtype=torch.float64, batch_size=4)
    normal = torch.distributions.Normal(8 * mean + 8, 8 * std)
    p_bin = normal.cdf(raw + 0.5) - normal.cdf(raw - 0.5)
    discrete = float((-p_bin.log2().sum(1) / D).mean())
    assert out["n"] == 6 and out["dequantisation"].startswith("uniform")
    assert discrete - 0.01 <= out["bits_per_dim"] <= discrete + 0.05
    # continuous: the normaliser's change of variables, D log 8 nats
    cont = bits_per_dim(oracle, process, x, norm, dtype=torch.float64)
    lp = ode_log_likelihood(oracle, process, x, dtype=torch.float64).log_px
    assert cont["bits_per_dim"] == pytest.approx(float((-(lp - D * math.log(8)) / BPD).mean()), abs=1e-6)


def test_bad_arguments_raise():
    process, oracle = gaussian_process("pixel", "cosine", "white")
    with pytest.raises(DifflabError, match="shaped"):
        ode_log_likelihood(oracle, process, torch.zeros(2, 3))
    with pytest.raises(DifflabError, match="divergence"):
        ode_log_likelihood(oracle, process, _data(2), divergence="trace")
    with pytest.raises(DifflabError, match="probes"):
        ode_log_likelihood(oracle, process, _data(2), divergence="hutchinson", probes=1)
    with pytest.raises(DifflabError, match="quantum"):
        bits_per_dim(oracle, process, _data(2), Normaliser(), quantum=0.0)


@pytest.mark.parametrize("soft_form", ["true_snr", "gud_code", "one_gamma"])
@pytest.mark.parametrize("prior", PRIORS)
def test_centred_processes_and_soft_forms(prior, soft_form):
    process = build_process(
        SHAPE,
        basis="pca",
        prior=prior,
        schedule="soft",
        softness=0.3,
        ordering="variance",
        soft_form=soft_form,
        center=True,
        data=gaussian_data(),
    )
    oracle = GaussianOracle(process, *gaussian_target())
    x = _data()
    res = ode_log_likelihood(
        oracle, process, x, dtype=torch.float64, prior_logpdf=_mvn(oracle.white_marginal(1.0)).log_prob
    )
    assert (res.log_px - _exact_log_px(process, oracle, x)).abs().max() / BPD <= 0.01
