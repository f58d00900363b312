"""Euler–Maruyama on the reverse-time SDE, per whitened component.

Song et al., *Score-Based Generative Modeling through SDEs* (2021), written for
GUD's component-wise VP process (arXiv 2410.02667). In whitened components the
forward SDE is ``dw = −½ β w dt + √β dW`` with ``β_i = σ_i² dγ_i/dt``; the
reverse SDE, with the Tweedie score ``∇ log p_t(w) = −(w − α ŵ₀)/σ²``, is

    dw = [−½ β w − β ∇ log p_t(w)] dt + √β dW̄     (dt < 0).

Each step evaluates β and the score at the left end ``t`` (plain
Euler–Maruyama, first order in t). Components with β = 0 stay frozen.
"""

from torch import Tensor

from difflab.process.noise import NoiseLike
from difflab.process.process import Process
from difflab.sampling._common import Callback, Denoiser, start


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
