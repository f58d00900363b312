"""Exact Gaussian / mixture oracles: closed forms, basis invariance, exact posterior sampling."""

import pytest
import torch

from difflab.errors import DifflabError
from difflab.process.factory import build_process
from difflab.process.oracles import GaussianOracle, GMMOracle

SHAPE, D = (1, 4, 4), 16


def _gaussian(seed=0):
    g = torch.Generator().manual_seed(seed)
    a = torch.randn(D, D, generator=g, dtype=torch.float64)
    return torch.randn(D, generator=g, dtype=torch.float64), a @ a.T / D + 0.1 * torch.eye(D, dtype=torch.float64)


def _data(mean, cov, n=2048, seed=1):
    g = torch.Generator().manual_seed(seed)
    return (mean + torch.randn(n, D, generator=g, dtype=torch.float64) @ torch.linalg.cholesky(cov).T).reshape(
        n, *SHAPE
    )


@pytest.mark.parametrize("basis", ["pixel", "pca", "dct", "fourier", "haar"])
@pytest.mark.parametrize("prior", ["white", "data"])
def test_gaussian_oracle_matches_data_space_formula(basis, prior):
    """Data-space Gaussian conditioning, written independently of the whitened formula.

    With a scalar schedule x_t = α x₀ + σ Uᵀ S ε, so
    E[x₀|x_t] = μ + α C (α² C + σ² Uᵀ S² U)⁻¹ (x_t − α μ) in every basis (S = I: white prior).
    """
    mean, cov = _gaussian()
    process = build_process(SHAPE, basis=basis, prior=prior, schedule="cosine", data=_data(mean, cov).float())
    oracle = GaussianOracle(process, mean, cov)
    x_t = torch.randn(5, *SHAPE, dtype=torch.float64)
    t = torch.tensor([0.1, 0.1, 0.5, 0.9, 0.5], dtype=torch.float64)  # per-sample, repeated times
    got = oracle(x_t, t).reshape(5, D)
    u = process.basis.matrix()
    s = process.scale
    for i in range(5):
        a, sg = (float(c[0]) for c in process.alpha_sigma(t[i]))
        noise_cov = u.T @ torch.diag(s**2) @ u * sg**2  # Cov of the data-space noise Uᵀ S σ ε
        want = mean + a * cov @ torch.linalg.solve(a * a * cov + noise_cov, x_t[i].reshape(D) - a * mean)
        torch.testing.assert_close(got[i], want, rtol=1e-9, atol=1e-9)


def test_oracle_is_the_regression_of_x0_on_xt():
    """Tweedie/MMSE: for samples (x₀, x_t), the residual x₀ − E[x₀|x_t] is uncorrelated with x_t."""
    mean, cov = _gaussian()
    process = build_process(SHAPE, basis="dct", schedule="soft", softness=1.0, data=_data(mean, cov).float())
    oracle = GaussianOracle(process, mean, cov)
    x0 = _data(mean, cov, n=50_000, seed=2)
    x_t, _ = process.noise(x0, torch.full((50_000,), 0.5, dtype=torch.float64), noise=torch.Generator().manual_seed(3))
    resid = (x0 - oracle(x_t, 0.5)).reshape(-1, D)
    xc = x_t.reshape(-1, D) - x_t.reshape(-1, D).mean(0)
    cross = resid.T @ xc / 50_000
    assert float(resid.mean(0).abs().max()) < 0.02
    assert float(cross.abs().max()) < 0.02


def test_gmm_with_one_mode_equals_gaussian_and_posterior_mean_by_importance_weights():
    mean, cov = _gaussian()
    process = build_process(SHAPE, basis="haar", schedule="cosine")
    x_t = torch.randn(3, *SHAPE, dtype=torch.float64)
    torch.testing.assert_close(
        GMMOracle(process, torch.ones(1), mean[None], cov[None])(x_t, 0.3), GaussianOracle(process, mean, cov)(x_t, 0.3)
    )
    # Two modes in D=16 at a high noise level: self-normalised importance weights over prior samples.
    means = torch.stack([mean, -mean])
    covs = torch.stack([cov, 0.5 * cov])
    w = torch.tensor([0.7, 0.3], dtype=torch.float64)
    oracle = GMMOracle(process, w, means, covs)
    n = 200_000
    g = torch.Generator().manual_seed(4)
    k = torch.multinomial(w, n, replacement=True, generator=g)
    chol = torch.linalg.cholesky(covs)
    x0 = means[k] + (chol[k] @ torch.randn(n, D, 1, generator=g, dtype=torch.float64)).squeeze(-1)
    a, s = (float(c[0]) for c in process.alpha_sigma(torch.tensor(0.85)))
    xq = a * x0[:1] + s * torch.randn(1, D, generator=g, dtype=torch.float64)
    logw = -0.5 * ((xq - a * x0) ** 2).sum(1) / s**2
    post = torch.softmax(logw, 0) @ x0
    torch.testing.assert_close(oracle(xq.reshape(1, *SHAPE), 0.85).reshape(D), post, atol=0.05, rtol=0)


def test_posterior_sample_is_exact():
    """x₀ ~ GMM, x_t ~ forward, x₀' ~ p(x₀|x_t): x₀' is again GMM-distributed (mode shares and moments)."""
    d = 16
    means = torch.zeros(2, d, dtype=torch.float64)
    means[0, :4], means[1, :4] = 2.5, -2.5
    covs = torch.stack([0.5 * torch.eye(d), 0.3 * torch.eye(d)]).double()
    w = torch.tensor([0.25, 0.75], dtype=torch.float64)
    process = build_process(SHAPE, basis="dct", schedule="cosine")
    oracle = GMMOracle(process, w, means, covs)
    n = 20_000
    g = torch.Generator().manual_seed(5)
    k = torch.multinomial(w, n, replacement=True, generator=g)
    x0 = means[k] + covs[k].diagonal(dim1=1, dim2=2).sqrt() * torch.randn(n, d, generator=g, dtype=torch.float64)
    t = torch.rand(n, generator=g, dtype=torch.float64).round(decimals=1)  # a few distinct per-sample times
    x_t, _ = process.noise(x0.reshape(n, *SHAPE), t, noise=g)
    x0_new = oracle.posterior_sample(x_t, t, generator=g).reshape(n, d)
    share0 = float((torch.cdist(x0_new, means).argmin(1) == 0).double().mean())
    assert abs(share0 - 0.25) < 3 * (0.25 * 0.75 / n) ** 0.5 + 0.005
    true_mean = w @ means
    true_cov = (w[:, None, None] * (covs + means[:, :, None] * means[:, None, :])).sum(0) - true_mean.outer(true_mean)
    torch.testing.assert_close(x0_new.mean(0), true_mean, atol=0.06, rtol=0)
    assert float((torch.cov(x0_new.T) - true_cov).norm() / true_cov.norm()) < 0.03
    # And not a copy of x₀ at high noise: posterior samples vary.
    assert float((x0_new - x0).pow(2).mean()) > 0.1


def test_gmm_responsibilities_and_shape_errors():
    process = build_process(SHAPE, basis="pixel", schedule="cosine")
    means = torch.zeros(2, D, dtype=torch.float64)
    means[1] = 4.0
    covs = torch.eye(D, dtype=torch.float64).expand(2, D, D)
    oracle = GMMOracle(process, torch.tensor([0.5, 0.5]), means, covs)
    r = oracle.responsibilities(means.reshape(2, *SHAPE), 0.01)
    assert r.shape == (2, 2) and float(r[0, 0]) > 0.99 and float(r[1, 1]) > 0.99
    with pytest.raises(DifflabError, match="means"):
        GMMOracle(process, torch.ones(2), means[:, :3], covs)
    with pytest.raises(DifflabError, match="single Gaussian"):
        oracle.white_marginal(0.5)
