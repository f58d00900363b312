"""Shared targets for sampler tests: a random Gaussian on (1, 4, 4) and processes built on it."""

import functools
import math

import torch

from difflab.process.factory import build_process
from difflab.process.oracles import GaussianOracle

SHAPE = (1, 4, 4)
D = 16


@functools.cache
def gaussian_target() -> tuple[torch.Tensor, torch.Tensor]:
    """Mean ``(D,)`` and a non-trivial covariance ``(D, D)`` with a decaying (image-like) spectrum."""
    g = torch.Generator().manual_seed(0)
    q, _ = torch.linalg.qr(torch.randn(D, D, generator=g, dtype=torch.float64))
    spectrum = 2.0 * torch.arange(1, D + 1, dtype=torch.float64) ** -1.5
    return 0.5 * torch.randn(D, generator=g, dtype=torch.float64), q @ torch.diag(spectrum) @ q.T


@functools.cache
def gaussian_data(n: int = 4096) -> torch.Tensor:
    """Training samples ``(n, 1, 4, 4)`` for fitting PCA, the data prior and soft schedules."""
    mean, cov = gaussian_target()
    g = torch.Generator().manual_seed(1)
    x = mean + torch.randn(n, D, generator=g, dtype=torch.float64) @ torch.linalg.cholesky(cov).T
    return x.reshape(n, *SHAPE).float()


# (basis, schedule, schedule options): standard cosine everywhere, soft conditioning
# (softness 1, variance ordering) in DCT/Haar/PCA, sequential columns in pixel/Haar.
PROCESS_COMBOS = [
    *[(b, "cosine", {}) for b in ("pixel", "pca", "dct", "fourier", "haar")],
    *[(b, "soft", {"softness": 1.0, "ordering": "variance"}) for b in ("dct", "haar", "pca")],
    *[(b, "sequential", {"softness": 2.0, "axis": "column"}) for b in ("pixel", "haar")],
]
PRIORS = ("white", "data")


@functools.cache
def gaussian_process(basis: str, schedule: str, prior: str):
    """``(process, oracle)`` for one combination (cached across tests)."""
    opts = next(o for b, s, o in PROCESS_COMBOS if b == basis and s == schedule) if schedule != "cosine" else {}
    process = build_process(SHAPE, basis=basis, prior=prior, schedule=schedule, data=gaussian_data(), **opts)
    mean, cov = gaussian_target()
    return process, GaussianOracle(process, mean, cov)


def moment_errors(mean: torch.Tensor, cov: torch.Tensor) -> tuple[float, float]:
    """(mean error / sqrt(tr C), relative Frobenius covariance error) against the target."""
    m0, c0 = gaussian_target()
    return float((mean - m0).norm() / math.sqrt(float(c0.trace()))), float((cov - c0).norm() / c0.norm())
