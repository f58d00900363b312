"""Deterministic DDIM inversion x₀ → x_T, per whitened component.

DDIM (Song, Meng, Ermon 2021) is an ODE discretisation, so it can be run
forwards in time: step t → s (s > t) re-noises the current estimate with the
noise the denoiser implies. As in the usual DDIM inversion, the denoiser is
evaluated at the *target* time s on the current state (the only choice that
works from t = 0, where σ_t = 0):

    ŵ₀ = D(x_t, s),   ε̂ = (w_t − α_s ŵ₀) / σ_s,
    w_s = α_s (w_t − σ_t ε̂) / α_t + σ_s ε̂,

with α, σ the per-component coefficients of the process (GUD,
arXiv 2410.02667), so every basis and schedule inverts. Components that do not
move (σ_s = 0, not yet noised in a sequential schedule) are rescaled by
α_s/α_t; where α_t = 0 the clean part is taken from ŵ₀. Generating with
:func:`difflab.sampling.ddim.sample_ddim` on the same grid maps x_T back to
≈ x₀ (exactly as the step size → 0).
"""

import torch
from torch import Tensor

from difflab.process.process import Process
from difflab.sampling.grids import user as validate_grid


@torch.no_grad()
def ddim_invert(denoiser, process: Process, x0: Tensor, times: Tensor, *, cond: dict | None = None) -> Tensor:
    """Invert DDIM: clean data ``x0`` ``(B, *shape)`` -> noise state at ``times[0]``.

    Args:
        denoiser: ``denoiser(x_t, t, **cond) -> x̂₀`` in data layout.
        process: the forward process.
        x0: data ``(B, *shape)``; the denoiser sees its dtype.
        times: the *sampling* grid ``(n + 1,)``, strictly decreasing (e.g. ``build_grid``);
            it is walked backwards, from ``times[-1]`` up to ``times[0]``.
        cond: keyword arguments for the denoiser (``z``, ``labels``...).

    Returns:
        ``x_T`` ``(B, *shape)`` in the dtype of ``x0``: feed it to ``sample_ddim`` on the same grid.
    """
    times = validate_grid(times).flip(0)
    cond = dict(cond or {})
    device = process.scale.device
    w = process.to_white(x0.to(device=device, dtype=torch.float64))
    for i in range(times.numel() - 1):
        t, s = times[i], times[i + 1]
        a_t, s_t = process.alpha_sigma(t.to(torch.float64))
        a_s, s_s = process.alpha_sigma(s.to(torch.float64))
        x = process.from_white(w).to(x0.dtype)
        tt = torch.full((x.shape[0],), float(s), dtype=torch.float64, device=device)
        w0 = process.to_white(denoiser(x, tt, **cond).to(device=device, dtype=torch.float64))
        moving = s_s > 0
        eps = (w - a_s * w0) / torch.where(moving, s_s, torch.ones_like(s_s))
        has_signal = a_t > 1e-12
        clean = torch.where(has_signal, (w - s_t * eps) / torch.where(has_signal, a_t, torch.ones_like(a_t)), w0)
        frozen = (a_s / torch.where(has_signal, a_t, torch.ones_like(a_t))) * w
        w = torch.where(moving, a_s * clean + s_s * eps, frozen)
    return process.from_white(w).to(x0.dtype)
