"""Euler–Maruyama on the reverse-time SDE, per whitened component.

Song et al., *Score-Based Generative Modeling through SDEs* (2021), written for
GUD's component-wise VP process (arXiv 2410.02667). In whitened components the
forward SDE is ``dw = −½ β w dt + √β dW`` with ``β_i = σ_i² dγ_i/dt``; the
reverse SDE, with the Tweedie score ``∇ log p_t(w) = −(w − α ŵ₀)/σ²``, is

    dw = [−½ β w − β ∇ log p_t(w)] dt + √β dW̄     (dt < 0).

Each step evaluates β and the score at the left end ``t`` (plain
Euler–Maruyama, first order in t). Components with β = 0 stay frozen.

Stability: on a component whose law given x_t has variance m (at most α²Σ + σ²; in
autoregressive generation the conditional given the components already made can be
far narrower), the step's linear factor is 1 + βh(½ − 1/m), h = t − s. Below −1 the
iteration oscillates and grows. Under GUD's steep per-component schedules a component's
log-SNR can move by several units in one step, and the errors compound over the steps
of its window: the sampler warns when, taking the worst case m → σ², they can grow
by more than 10³ (:func:`em_step_factors`). More steps, or ``ddpm`` (exact Gaussian
transitions), are stable.
"""

import math
import warnings

import torch
from torch import Tensor

from difflab.process.noise import NoiseLike
from difflab.process.process import Process
from difflab.sampling._common import Callback, Denoiser, start

MAX_GROWTH_LOG10 = 3.0  # warn above a worst-case 1000-fold growth (short grids on smooth schedules stay below)


def sample_euler_maruyama(
    denoiser: Denoiser,
    process: Process,
    x_T: Tensor,
    times: Tensor,
    *,
    noise: NoiseLike = None,
    callback: Callback | None = None,
    cond: dict | None = None,
) -> Tensor:
    """Reverse-SDE sampler (Euler–Maruyama in t), one denoiser call per step.

    Args:
        denoiser: ``denoiser(x_t (B, *shape), t (B,), **cond) -> x̂₀``.
        process: the forward process.
        x_T: start state ``(B, *shape)``; its dtype is the denoiser's.
        times: strictly decreasing grid ``(n + 1,)``.
        noise: noise source (PerSampleNoise, generator or ``None``).
        callback: ``callback(step_index, t, s, x_t, x0_hat)`` once per step.
        cond: keyword arguments passed to the denoiser.

    Returns:
        ``x_0`` in data layout; if the grid ends at 0 the last step returns x̂₀.
    """
    run, w = start(denoiser, process, x_T, times, noise, callback, cond)
    _warn_if_unstable(process, run.times)
    for i, t, s, last in run.steps():
        w0 = run.denoise(w, t, i)
        run.report(i, t, s, w, w0)
        if last:
            w = w0
            continue
        alpha, sigma = run.coeffs(t)
        beta = run.beta(t)
        score = Process.x0_to_score(w, w0, alpha, sigma)
        dt = s - t
        w = w + (-0.5 * beta * w - beta * score) * dt + (beta * -dt).sqrt() * run.randn()
    return run.to_data(w)


def em_step_factors(process: Process, times: Tensor) -> Tensor:
    """Each Euler–Maruyama step's linear factor ``1 + βh(½ − 1/σ²)`` per component, ``(n, D)`` float64.

    The worst case of ``1 + βh(½ − 1/m)`` over the law's variance m ≤ σ² + α²Σ (a sharp conditional
    law, m → σ²), so it needs no knowledge of the data. Frozen components (β = 0) have factor 1; the
    last step to t = 0 returns x̂₀ and is not included.
    """
    t = times[:-1].to(torch.float64)
    h = (times[:-1] - times[1:]).to(torch.float64).unsqueeze(-1)
    _, sigma = process.alpha_sigma(t)
    beta = process.beta(t)
    h = h.to(beta.device)  # the grid lives on the CPU, the process's buffers may not
    factor = torch.where(beta > 0, 1 + beta * h * (0.5 - 1 / sigma.pow(2).clamp_min(1e-300)), torch.ones_like(beta))
    return factor[:-1] if float(times[-1]) == 0.0 else factor


def worst_amplification(factors: Tensor) -> float:
    """log10 of the largest growth ``Π_k max(1, |f_k,i|)`` of one component's error over the run."""
    if factors.numel() == 0:
        return 0.0
    return float(factors.abs().clamp_min(1).log10().sum(0).max())


def _warn_if_unstable(process: Process, times: Tensor) -> None:
    factors = em_step_factors(process, times)
    growth = worst_amplification(factors)
    if growth <= MAX_GROWTH_LOG10:
        return
    worst = float(factors.min())
    # a step's factor is about linear in h: this many steps bring the worst one to -1 on a grid of the same shape
    need = math.ceil((times.numel() - 1) * (1 - worst) / 2)
    warnings.warn(
        f"euler: Euler–Maruyama is unstable on this grid: a component's error can grow by 10^{growth:.0f} "
        f"(worst step factor {worst:.3g}; its window is narrower than a few steps). "
        f"Use about {need} steps or more, or sampler=ddpm",
        stacklevel=3,
    )
