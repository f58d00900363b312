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
from difflab.sampling._common import Callback, Denoiser, start


@torch.no_grad()
def ddim_invert(
    denoiser: Denoiser,
    process: Process,
    x0: Tensor,
    times: Tensor,
    *,
    cond: dict | None = None,
    callback: Callback | None = None,
) -> Tensor:
    """Invert DDIM: clean data ``x0`` ``(B, *shape)`` -> noise state at ``times[0]``.

    Shares the samplers' machinery (:func:`difflab.sampling._common.start`): grid
    validation, float64 state, and the denoiser's NaN and shape checks.

    Args:
        denoiser: ``denoiser(x_t, t, **cond) -> x̂₀`` in data layout.
        process: the forward process.
        x0: data ``(B, *shape)``; the denoiser sees its dtype.
        times: the *sampling* grid ``(n + 1,)``, strictly decreasing (e.g. ``build_grid``);
            it is walked backwards, from ``times[-1]`` up to ``times[0]``.
        cond: conditioning mapping for the denoiser (``z``, ``labels``...).
        callback: ``callback(step_index, t, s, x_t, x0_hat)`` once per step (here s > t).

    Returns:
        ``x_T`` ``(B, *shape)`` in the dtype of ``x0``: feed it to ``sample_ddim`` on the same grid.
    """
    run, w = start(denoiser, process, x0, times, None, callback, cond)
    n = run.times.numel() - 1
    for i in range(n):
        t, s = float(run.times[n - i]), float(run.times[n - i - 1])
        (a_t, s_t), (a_s, s_s) = run.coeffs(t), run.coeffs(s)
        w0 = run.denoise(w, s, i)  # at the target time s: the only choice that works from σ_t = 0
        run.report(i, t, s, w, w0)
        moving = s_s > 0
        eps = Process.x0_to_eps(w, w0, a_s, torch.where(moving, s_s, torch.ones_like(s_s)))
        has_signal = a_t > 1e-12
        a_t_safe = torch.where(has_signal, a_t, torch.ones_like(a_t))
        clean = torch.where(has_signal, Process.eps_to_x0(w, eps, a_t_safe, s_t), w0)
        frozen = (a_s / a_t_safe) * w
        w = torch.where(moving, a_s * clean + s_s * eps, frozen)
    return run.to_data(w)
