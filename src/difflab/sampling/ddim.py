"""DDIM and DDPM samplers through the generalised bridge.

DDIM (Song, Meng, Ermon 2021) and ancestral DDPM (Ho et al. 2020) are the same
step given x̂₀: :func:`difflab.sampling.bridge.bridge_step` with η = 0 or 1,
applied per whitened component (GUD, arXiv 2410.02667). ``eta`` is the DDIM
paper's η (σ_s = η × the posterior standard deviation, as diffusers'
``DDIMScheduler(eta=...)``); the distributional paper's churn is the
``distributional`` sampler's ``churn``.
"""

from typing import Literal

from torch import Tensor

from difflab.errors import DifflabError
from difflab.process.noise import NoiseLike
from difflab.process.process import Process
from difflab.sampling._common import Callback, Denoiser, start
from difflab.sampling.bridge import bridge_step, check_churn

DDPM_VARIANCES = ("fixed_small", "fixed_large")


def _bridge_sampler(denoiser, process, x_T, times, noise, callback, cond, level, variance):
    run, w = start(denoiser, process, x_T, times, noise, callback, cond)
    for i, t, s, last in run.steps():
        w0 = run.denoise(w, t, i)
        run.report(i, t, s, w, w0)
        if last:
            w = w0
            continue
        (a_t, s_t), (a_s, s_s) = run.coeffs(t), run.coeffs(s)
        eps = run.randn() if level > 0 else None
        w = bridge_step(w, w0, a_t, s_t, a_s, s_s, level, eps, rule="eta", variance=variance)
    return run.to_data(w)


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
        eta: the DDIM paper's η ∈ [0, 1]: the step's noise is η × the posterior standard deviation
            (0 deterministic DDIM, 1 the DDPM posterior), per component.

    Returns:
        ``x_0`` in data layout ``(B, *shape)``, dtype of ``x_T``. If the grid ends
        at t = 0 this is the last x̂₀.
    """
    check_churn(eta, "eta (DDIM η)")
    return _bridge_sampler(denoiser, process, x_T, times, noise, callback, cond, eta, "bridge")


def sample_ddpm(
    denoiser: Denoiser,
    process: Process,
    x_T: Tensor,
    times: Tensor,
    *,
    noise: NoiseLike = None,
    callback: Callback | None = None,
    cond: dict | None = None,
    variance: Literal["fixed_small", "fixed_large"] = "fixed_small",
) -> Tensor:
    """Ancestral DDPM: each step samples the posterior q(x_s | x_t, x₀ = x̂₀).

    Same return value as :func:`sample_ddim` (it is DDIM with η = 1).

    Args:
        denoiser: ``denoiser(x_t (B, *shape), t (B,), **cond) -> x̂₀ (B, *shape)``.
        process: the forward process.
        x_T: start state in data layout ``(B, *shape)``.
        times: strictly decreasing grid ``(n + 1,)``.
        noise: noise source (PerSampleNoise, generator or ``None``).
        callback: ``callback(step_index, t, s, x_t, x0_hat)`` once per step.
        cond: keyword arguments passed to the denoiser.
        variance: ``fixed_small`` (the posterior variance σ̃², default) or ``fixed_large``
            (Ho et al.'s σ² = β_t: the forward transition variance of the step, per component;
            diffusers' ``variance_type="fixed_large"``). The mean is the posterior mean either way.

    Raises:
        DifflabError: for an unknown ``variance``.
    """
    if variance not in DDPM_VARIANCES:
        raise DifflabError(f"variance must be one of {', '.join(DDPM_VARIANCES)}, got {variance!r}")
    bridge_variance = "fixed_large" if variance == "fixed_large" else "bridge"
    return _bridge_sampler(denoiser, process, x_T, times, noise, callback, cond, 1.0, bridge_variance)
