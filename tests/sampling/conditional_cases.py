"""Conditional-sampling oracle cases: a known set, a Gaussian target and the exact conditional law.

Three known sets on the (1, 4, 4) Gaussian of :mod:`.gaussian_cases`: the left half of the pixels
(pixel basis), the coarse Haar band (Haar basis, its own components) and the 4 leading PCA components
(PCA basis). ``coupling="independent"`` zeroes the covariance between known and unknown components
(in the known set's own orthonormal coordinates), where replacement is exact; ``"correlated"`` keeps
the full covariance, where replacement is an approximation (docs/conditional.md).
"""

import functools
import math

import torch

from difflab.process.factory import build_process
from difflab.process.oracles import GaussianOracle
from difflab.sampling import SAMPLERS, uniform
from difflab.sampling.known import Known
from difflab.sampling.moments import sampler_output_moments

from .gaussian_cases import SHAPE, D, gaussian_data, gaussian_target

MASKS = ("pixel", "haar", "pca")
DETERMINISTIC = {"ddim", "heun", "dpmpp2m"}
# Noise draws per step: one for the known components at each denoiser call, one per stochastic step.
DRAWS_PER_STEP = {"ddim": 1, "dpmpp2m": 1, "heun": 2, "ddpm": 2, "euler": 2, "distributional": 3}


@functools.cache
def case(mask: str, prior: str):
    """``(process, known_index (D,) bool over the known set's coordinates, coords (D, D) orthonormal)``."""
    basis = {"pixel": "pixel", "haar": "haar", "pca": "pca"}[mask]
    process = build_process(SHAPE, basis=basis, prior=prior, schedule="cosine", data=gaussian_data())
    coords = process.basis.matrix(torch.float64).cpu()  # rows: the basis vectors, u = coords @ x
    if mask == "pixel":
        known = torch.zeros(SHAPE, dtype=torch.bool)
        known[..., :2] = True
        known = known.reshape(-1)
    elif mask == "haar":
        known = process.basis._is_approx().reshape(-1)
    else:
        known = torch.arange(D) < 4
    return process, known, coords


@functools.cache
def target(mask: str, prior: str, coupling: str) -> tuple[torch.Tensor, torch.Tensor]:
    mean, cov = gaussian_target()
    if coupling == "independent":
        _, known, coords = case(mask, prior)
        c = coords @ cov @ coords.T
        c[known[:, None] & ~known[None, :]] = 0
        c[~known[:, None] & known[None, :]] = 0
        cov = coords.T @ c @ coords
    return mean, cov


def observation(mask: str, prior: str, coupling: str) -> torch.Tensor:
    """One draw ``(D,)`` from the target, the observation y."""
    mean, cov = target(mask, prior, coupling)
    z = torch.randn(D, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    return mean + torch.linalg.cholesky(cov) @ z


def exact_conditional(mask: str, prior: str, coupling: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean ``(D,)`` and covariance ``(D, D)`` (data layout) of x₀ given its known coordinates equal y's."""
    _, known, coords = case(mask, prior)
    mean, cov = target(mask, prior, coupling)
    m, c, y = coords @ mean, coords @ cov @ coords.T, coords @ observation(mask, prior, coupling)
    k, u = known, ~known
    gain = c[u][:, k] @ torch.linalg.inv(c[k][:, k])
    cm = m.clone()
    cm[k] = y[k]
    cm[u] = m[u] + gain @ (y[k] - m[k])
    cc = torch.zeros(D, D, dtype=torch.float64)
    iu = torch.nonzero(u).squeeze(1)
    cc[iu[:, None], iu[None, :]] = c[u][:, u] - gain @ c[k][:, u]
    return coords.T @ cm, coords.T @ cc @ coords


def conditional_start(mask: str, prior: str, coupling: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean ``(D,)`` and covariance ``(D, D)`` of the whitened state at t = 1 under the exact conditional law.

    Starting there separates a sampler's error from the start's mismatch α(1) ≠ 0 (the cosine schedule's
    α(1) ≈ 0.0067 shifts the conditional mean by about 0.003 of √tr C_cond when sampling starts from the
    unconditional marginal instead).
    """
    process, _, _ = case(mask, prior)
    em, ec = exact_conditional(mask, prior, coupling)
    u = process.basis.matrix(torch.float64).cpu()
    s_inv = 1.0 / process.scale.double().cpu()
    m = em if process.mean is None else em - process.mean.double().cpu().reshape(-1)
    wm, wc = (u @ m) * s_inv, s_inv[:, None] * (u @ ec @ u.T) * s_inv[None, :]
    alpha, sigma = (c.cpu() for c in process.alpha_sigma(torch.tensor(1.0, dtype=torch.float64)))
    return alpha * wm, alpha[:, None] * wc * alpha[None, :] + torch.diag(sigma**2)


def known_for(mask: str, prior: str, coupling: str, resample: int = 0, method: str = "replace") -> Known:
    _, known, _ = case(mask, prior)
    y = observation(mask, prior, coupling).reshape(1, *SHAPE).float()
    if mask == "pixel":
        return Known(y, known.reshape(1, *SHAPE).float(), resample=resample, method=method)
    return Known(y, known.float(), basis="run", resample=resample, method=method)


def conditional_errors(
    sampler: str, mask: str, prior: str, coupling: str, steps: int, resample: int = 0, method: str = "replace"
):
    """(mean error, covariance error) of the sampler's exact output moments against the exact conditional.

    Mean error: ‖mean − m‖ / √tr C_cond; covariance error: ‖cov − C_cond‖_F / ‖C_cond‖_F (C_cond the
    conditional covariance of the unknown part).
    """
    process, _, _ = case(mask, prior)
    mean, cov = target(mask, prior, coupling)
    oracle = GaussianOracle(process, mean, cov)
    draws = steps * (DRAWS_PER_STEP[sampler] + 3 * resample)
    out_mean, out_cov = sampler_output_moments(
        SAMPLERS[sampler],
        oracle,
        process,
        uniform(steps),
        noise_draws=draws,
        start=oracle.white_marginal(1.0) if method == "replace" else conditional_start(mask, prior, coupling),
        cond={"known": known_for(mask, prior, coupling, resample, method)},
    )
    em, ec = exact_conditional(mask, prior, coupling)
    return (
        float((out_mean - em).norm() / math.sqrt(float(ec.trace()))),
        float((out_cov - ec).norm() / ec.norm()),
    )
