"""DDIM and DDPM samplers through the generalised bridge.

DDIM (Song, Meng, Ermon 2021) and ancestral DDPM (Ho et al. 2020) are the same
step given x̂₀: :func:`difflab.sampling.bridge.bridge_step` with churn 0 or 1,
applied per whitened component (GUD, arXiv 2410.02667).
"""

from torch import Tensor

from difflab.process.noise import NoiseLike
from difflab.process.process import Process
from difflab.sampling._common import Callback, Denoiser, start
from difflab.sampling.bridge import bridge_step, check_churn


def sample_ddim(
    denoiser: Denoiser,
    process: Process,
    x_T: Tensor,
    times: Tensor,
    *,
    noise: NoiseLike = None,
    callback: Callback | None = None,
    cond: dict | None = None,
    eta: float = 0.0,
) -> Tensor:
    """DDIM: one denoiser call per step, then the bridge step ``t -> s``.

    Args:
        denoiser: ``denoiser(x_t (B, *shape), t (B,), **cond) -> x̂₀ (B, *shape)``.
        process: the forward process.
        x_T: start state in data layout ``(B, *shape)``; its dtype is the denoiser's.
        times: strictly decreasing grid ``(n + 1,)`` (see :mod:`difflab.sampling.grids`).
        noise: noise source for ``eta > 0`` (PerSampleNoise, generator or ``None``).
        callback: ``callback(step_index, t, s, x_t, x0_hat)`` once per step.
        cond: keyword arguments passed to the denoiser.
        eta: churn ε ∈ [0, 1] of the bridge: 0 deterministic DDIM, 1 DDPM.

    Returns:
        ``x_0`` in data layout ``(B, *shape)``, dtype of ``x_T``. If the grid ends
        at t = 0 this is the last x̂₀.
    """
    check_churn(eta, "eta (the churn)")
    run, w = start(denoiser, process, x_T, times, noise, callback, cond)
    for i, t, s, last in run.steps():
        w0 = run.denoise(w, t, i)
        run.report(i, t, s, w, w0)
        if last:
            w = w0
            continue
        (a_t, s_t), (a_s, s_s) = run.coeffs(t), run.coeffs(s)
        eps = run.randn() if eta > 0 else None
        w = bridge_step(w, w0, a_t, s_t, a_s, s_s, eta, eps)
    return run.to_data(w)


def sample_ddpm(
    denoiser: Denoiser,
    process: Process,
    x_T: Tensor,
    times: Tensor,
    *,
    noise: NoiseLike = None,
    callback: Callback | None = None,
    cond: dict | None = None,
) -> Tensor:
    """Ancestral DDPM: each step samples the posterior q(x_s | x_t, x₀ = x̂₀).

    Same arguments and return value as :func:`sample_ddim` (it is DDIM with churn 1).
    """
    return sample_ddim(denoiser, process, x_T, times, noise=noise, callback=callback, cond=cond, eta=1.0)
