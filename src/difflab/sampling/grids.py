"""Time grids for samplers: strictly decreasing float64 times from ~1 to 0.

A grid is data, not hidden sampler state (cf. k-diffusion's ``get_sigmas_*``):
few-step research changes the grid, never a step index. Every builder returns
``n + 1`` times ``t_0 > t_1 > ... > t_n``, so a sampler takes ``n`` steps.

With component-wise schedules (GUD, arXiv 2410.02667) there is no single
noise level, so log-SNR based grids use the *mean over components* of the
log-SNR, ``λ̄(t) = mean_i log(α_i²/σ_i²) = -mean_i γ_i(t)``, and invert it
numerically. For a scalar schedule that is just its log-SNR.
"""

import inspect
import math

import torch
from torch import Tensor

from difflab.errors import DifflabError
from difflab.process.process import Process
from difflab.sampling.registry import GRIDS, GridName


def user(times: Tensor | list[float]) -> Tensor:
    """Validate a user's grid and return it as a float64 CPU tensor ``(n + 1,)``.

    Raises:
        DifflabError: if the grid is not 1-D with at least two entries, not
            finite, leaves [0, 1], or is not strictly decreasing.
    """
    t = torch.as_tensor(times, dtype=torch.float64).detach().cpu()
    if t.ndim != 1 or t.numel() < 2:
        raise DifflabError(f"a time grid must be 1-D with at least 2 times, got shape {tuple(t.shape)}")
    if not torch.isfinite(t).all():
        raise DifflabError("the time grid contains NaN or Inf; pass finite times in [0, 1]")
    if t.min() < 0 or t.max() > 1:
        raise DifflabError(f"times must lie in [0, 1], got range [{float(t.min()):.4g}, {float(t.max()):.4g}]")
    steps = t[1:] - t[:-1]
    if (steps >= 0).any():
        i = int(torch.nonzero(steps >= 0)[0])
        raise DifflabError(
            f"the time grid must be strictly decreasing (from noise t≈1 to data t=0), "
            f"but t[{i}]={float(t[i]):.6g} <= t[{i + 1}]={float(t[i + 1]):.6g}"
        )
    return t


def _check_n(n: int) -> int:
    if int(n) != n or n < 1:
        raise DifflabError(f"the number of steps must be a positive integer, got {n!r}")
    return int(n)


def uniform(*args: Process | int | float, t_max: float = 1.0, t_min: float = 0.0) -> Tensor:
    """``n + 1`` times evenly spaced from ``t_max`` down to ``t_min``.

    Called like every other grid, ``uniform(process, n)``; the process is not needed (the grid
    is the same for every process), so ``uniform(n)`` works too, and so does the older positional
    form ``uniform(n, t_max, t_min)``.
    """
    if args and isinstance(args[0], Process):
        args = args[1:]
    if not 1 <= len(args) <= 3:
        raise TypeError("uniform takes (process, n) or (n), plus optional t_max and t_min")
    n, *rest = args
    if rest:
        t_max = float(rest[0])
    if len(rest) > 1:
        t_min = float(rest[1])
    n = _check_n(n)
    if not 0.0 <= t_min < t_max <= 1.0:
        raise DifflabError(f"need 0 <= t_min < t_max <= 1, got t_min={t_min}, t_max={t_max}")
    return user(torch.linspace(t_max, t_min, n + 1, dtype=torch.float64))


def mean_logsnr(process: Process, t: Tensor) -> Tensor:
    """λ̄(t) = mean over components of log(α²/σ²), shape ``t.shape``, float64."""
    return process.logsnr(t.to(process.scale.device)).mean(-1).cpu()


def time_at_mean_logsnr(process: Process, targets: Tensor, iters: int = 64) -> Tensor:
    """Invert λ̄ by bisection: the time where the mean log-SNR equals each target.

    λ̄ is non-increasing in t for every schedule here (γ_i non-decreasing); where
    it is flat (clamped schedules) any time in the flat piece is returned.
    """
    targets = targets.to(torch.float64)
    lo = torch.zeros_like(targets)
    hi = torch.ones_like(targets)
    for _ in range(iters):
        mid = 0.5 * (lo + hi)
        above = mean_logsnr(process, mid) > targets  # still too clean: move later in time
        lo = torch.where(above, mid, lo)
        hi = torch.where(above, hi, mid)
    return 0.5 * (lo + hi)


def _ends(process: Process) -> tuple[float, float]:
    lam = mean_logsnr(process, torch.tensor([1.0, 0.0], dtype=torch.float64))
    if not lam[0] < lam[1]:
        raise DifflabError("the process's mean log-SNR does not decrease from t=0 to t=1; use the uniform grid")
    return float(lam[0]), float(lam[1])


def uniform_logsnr(process: Process, n: int) -> Tensor:
    """Times evenly spaced in the mean log-SNR λ̄ between λ̄(1) and λ̄(0).

    The end points are exactly 1 and 0. Interior times come from inverting
    λ̄(t) numerically (see :func:`time_at_mean_logsnr`).
    """
    n = _check_n(n)
    lam_1, lam_0 = _ends(process)
    t = time_at_mean_logsnr(process, torch.linspace(lam_1, lam_0, n + 1, dtype=torch.float64))
    t[0], t[-1] = 1.0, 0.0
    return user(t)


def edm(process: Process, n: int, rho: float = 7.0, sigma_min: float = 0.002, sigma_max: float | None = None) -> Tensor:
    """Karras et al. (EDM) ρ-spacing of the noise level, mapped to t via the mean log-SNR.

    The EDM noise level of the variance-preserving process is ν = σ/α, here the
    *mean-log-SNR* level ``ν̄(t) = exp(-λ̄(t) / 2)``. The first ``n`` times carry
    ``ν_k = (ν_max^{1/ρ} + k/(n-1) (ν_min^{1/ρ} - ν_max^{1/ρ}))^ρ``; the last
    time is 0, where samplers return the final x̂₀ (EDM's step to σ = 0).

    Args:
        process: supplies λ̄(t).
        n: number of steps (``n + 1`` times).
        rho: EDM's ρ; larger spends more steps at low noise.
        sigma_min: ν of the last evaluated time; must exceed the process's ν̄(0).
        sigma_max: ν of the first time; ``None`` means ν̄(1) (so ``t_0 = 1``).
    """
    n = _check_n(n)
    lam_1, lam_0 = _ends(process)
    nu_lo, nu_hi = math.exp(-lam_0 / 2), math.exp(-lam_1 / 2)
    nu_max = nu_hi if sigma_max is None else float(sigma_max)
    if not nu_lo < sigma_min < nu_max <= nu_hi * (1 + 1e-9):
        raise DifflabError(
            f"need {nu_lo:.4g} < sigma_min < sigma_max <= {nu_hi:.4g} (the process's range of σ/α), "
            f"got sigma_min={sigma_min}, sigma_max={nu_max}"
        )
    if n == 1:
        return user(torch.tensor([1.0 if sigma_max is None else _t_of_nu(process, nu_max), 0.0]))
    k = torch.arange(n, dtype=torch.float64) / (n - 1)
    nu = (nu_max ** (1 / rho) + k * (sigma_min ** (1 / rho) - nu_max ** (1 / rho))) ** rho
    t = time_at_mean_logsnr(process, -2 * torch.log(nu))
    if sigma_max is None:
        t[0] = 1.0
    return user(torch.cat([t, torch.zeros(1, dtype=torch.float64)]))


def _t_of_nu(process: Process, nu: float) -> float:
    return float(time_at_mean_logsnr(process, torch.tensor([-2 * math.log(nu)]))[0])


def build_grid(name: GridName, process: Process, n: int, **kwargs) -> Tensor:
    """Build a grid by name from :data:`~difflab.sampling.registry.GRIDS` (keywords passed on).

    Raises:
        DifflabError: for an unknown name, listing the registered grids.
    """
    builder = GRIDS.get_or_raise(name)
    if "process" in inspect.signature(builder).parameters or builder is uniform:
        return builder(process, n, **kwargs)
    return builder(n, **kwargs)
