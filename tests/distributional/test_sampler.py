"""The distributional sampler preserves marginals when fed exact posterior samples.

For Gaussian data x₀ ~ N(μ, C), p(w₀ | w_t) is Gaussian (Gaussian conditioning,
see :mod:`difflab.process.oracles`), so ``G(x_t, t, ξ) = post_mean + L ξ`` with
``L Lᵀ = post_cov`` is an exact generator. Started from the exact marginal at
t = 1, the sampler must then reproduce N(μ, C) for every churn ε and any number
of steps, in any basis and prior (De Bortoli et al., arXiv 2502.02483).

The sampler contract (registration, NaN and grid errors, per-sample noise, callbacks, cond,
dtypes) is tested for every registered sampler, this one included, in
``tests/sampling/test_sampler_api.py``; this file keeps what is particular to it.
"""

import functools

import pytest
import torch

from difflab.errors import DifflabError
from difflab.process.factory import build_process
from difflab.process.oracles import GaussianOracle, gaussian_posterior
from difflab.sampling import build_grid, get_sampler
from difflab.sampling.distributional import sample_distributional

SHAPE, D, N = (1, 4, 4), 16, 12000


@functools.cache
def target() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Mean ``(D,)``, a correlated covariance ``(D, D)`` and training data ``(4096, *SHAPE)``."""
    g = torch.Generator().manual_seed(0)
    q, _ = torch.linalg.qr(torch.randn(D, D, generator=g, dtype=torch.float64))
    cov = q @ torch.diag(2.0 * torch.arange(1, D + 1, dtype=torch.float64) ** -1.5) @ q.T
    mean = 0.5 * torch.randn(D, generator=g, dtype=torch.float64)
    data = mean + torch.randn(4096, D, generator=g, dtype=torch.float64) @ torch.linalg.cholesky(cov).T
    return mean, cov, data.reshape(-1, *SHAPE).float()


@functools.cache
def setup(basis: str, prior: str):
    mean, cov, data = target()
    process = build_process(SHAPE, basis=basis, prior=prior, schedule="cosine", data=data)
    return process, GaussianOracle(process, mean, cov)


class ExactGenerator:
    """``G(x_t, t, ξ) = E[w₀|w_t] + L ξ`` in whitened space: an exact posterior sampler driven by ξ."""

    def __init__(self, process, oracle):
        self.process, self.oracle, self.xis = process, oracle, []

    def __call__(self, x_t, t, *, xi):
        self.xis.append(xi.clone())
        w_t = self.process.to_white(x_t.double())
        alpha, sigma = self.process.alpha_sigma(t[:1].double())
        mean, cov, _ = gaussian_posterior(
            w_t, alpha[0], sigma[0], self.oracle.white_means[0], self.oracle.white_covs[0], marginal=False
        )
        vals, vecs = torch.linalg.eigh(cov)
        w0 = mean + xi.reshape(xi.shape[0], -1).double() @ (vecs * vals.clamp_min(0).sqrt()).T
        return self.process.from_white(w0).to(x_t.dtype)


def start_state(process, oracle, n: int, seed: int) -> torch.Tensor:
    """x_T drawn from the exact marginal at t = 1, ``(n, *SHAPE)`` float64."""
    m, k = oracle.white_marginal(1.0)
    g = torch.Generator().manual_seed(seed)
    w = m + torch.randn(n, D, generator=g, dtype=torch.float64) @ torch.linalg.cholesky(k).T
    return process.from_white(w)


@pytest.mark.parametrize(("basis", "prior"), [("pixel", "white"), ("dct", "data")])
@pytest.mark.parametrize("churn", [0.0, 0.5, 1.0])
@pytest.mark.parametrize("steps", [1, 2, 4])
def test_exact_posterior_samples_reproduce_the_data_distribution(basis, prior, churn, steps):
    process, oracle = setup(basis, prior)
    mean0, cov0, _ = target()
    x_T = start_state(process, oracle, N, seed=steps)
    gen = torch.Generator().manual_seed(100 + steps)
    x0 = sample_distributional(
        ExactGenerator(process, oracle), process, x_T, build_grid("uniform", process, steps), noise=gen, churn=churn
    ).reshape(N, D)
    mean, cov = x0.mean(0), torch.cov(x0.T)
    assert (mean - mean0).norm() / cov0.trace().sqrt() < 0.03
    assert (cov - cov0).norm() / cov0.norm() < 0.04


def test_a_mean_denoiser_under_the_same_sampler_collapses_the_variance():
    """Control: the posterior *mean* (regression) at one step gives a far too narrow distribution."""
    process, oracle = setup("pixel", "white")
    _, cov0, _ = target()
    x_T = start_state(process, oracle, 4000, seed=0)
    x0 = sample_distributional(oracle, process, x_T, build_grid("uniform", process, 1)).reshape(4000, D)
    assert torch.cov(x0.T).trace() < 0.5 * cov0.trace()


def test_one_network_call_per_step_with_fresh_noise_each_step():
    process, oracle = setup("pixel", "white")
    g = ExactGenerator(process, oracle)
    calls = []
    sample_distributional(
        g,
        process,
        start_state(process, oracle, 8, 0),
        build_grid("uniform", process, 4),
        noise=torch.Generator().manual_seed(0),
        callback=lambda *a: calls.append(a[0]),
    )
    assert len(g.xis) == 4 and calls == [0, 1, 2, 3]
    assert all(x.shape == (8, *SHAPE) for x in g.xis)
    assert all(not torch.equal(g.xis[i], g.xis[j]) for i in range(4) for j in range(i))


def test_registered_and_rejects_bad_churn_and_xi_in_cond():
    assert get_sampler("distributional") is sample_distributional
    process, oracle = setup("pixel", "white")
    x_T, times = start_state(process, oracle, 2, 0), build_grid("uniform", process, 2)
    with pytest.raises(DifflabError, match="churn"):
        sample_distributional(oracle, process, x_T, times, churn=1.5)
    with pytest.raises(DifflabError, match="xi"):
        sample_distributional(oracle, process, x_T, times, cond={"xi": x_T})
