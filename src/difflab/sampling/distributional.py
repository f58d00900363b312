"""Few-step sampler of a distributional denoiser (De Bortoli et al., arXiv 2502.02483).

A distributional denoiser is a generator ``G(x_t, t, ξ)`` whose output is a
*sample* of p(x₀ | x_t), not its mean. At every coarse step ``t -> s`` the
sampler draws one x̂₀ = G(x_t, t, ξ) with a fresh ξ ~ N(0, I) shaped like the
data, then moves with the DDIM/DDPM bridge of churn ε
(:func:`difflab.sampling.bridge.bridge_step`): ε = 0 is deterministic given
x̂₀, ε = 1 is the DDPM posterior q(x_s | x_t, x̂₀). If x̂₀ is an exact posterior
sample, every ε maps the marginal at t to the marginal at s exactly, whatever
the step size — which is why coarse grids work. The bridge acts per whitened
component, so any basis, prior and per-component schedule of the core works.
One network call per step; the last step to t = 0 returns the x̂₀ sample.
"""

from dataclasses import replace

from torch import Tensor

from difflab.errors import DifflabError
from difflab.process.noise import NoiseLike, standard_normal
from difflab.process.process import Process
from difflab.sampling._common import Callback, Denoiser, start
from difflab.sampling.bridge import bridge_step, check_churn


def sample_distributional(
    denoiser: Denoiser,
    process: Process,
    x_T: Tensor,
    times: Tensor,
    *,
    noise: NoiseLike = None,
    callback: Callback | None = None,
    cond: dict | None = None,
    churn: float = 0.0,
) -> Tensor:
    """Sample with a generator denoiser: x̂₀ ~ G(x_t, t, ξ), then the bridge step with churn.

    Args:
        denoiser: ``denoiser(x_t (B, *shape), t (B,), xi=ξ (B, *shape), **cond) -> x̂₀ (B, *shape)``,
            e.g. a :class:`difflab.models.denoiser.Denoiser` built with ``generator_noise=True``.
            A mean (regression) denoiser ignores ``xi`` and this reduces to DDIM with churn.
        process: the forward process.
        x_T: start state in data layout ``(B, *shape)``; its dtype is the denoiser's.
        times: strictly decreasing grid ``(n + 1,)`` (see :mod:`difflab.sampling.grids`).
        noise: source of ξ (one fresh draw per step) and of the churn noise; a
            :class:`~difflab.process.noise.PerSampleNoise` makes sample i depend on its seed alone.
        callback: ``callback(step_index, t, s, x_t, x0_hat)`` once per step.
        cond: keyword arguments passed to the denoiser (labels, z).
        churn: ε ∈ [0, 1] of the bridge.

    Returns:
        ``x_0`` in data layout ``(B, *shape)``, dtype of ``x_T``: the last x̂₀ sample
        when the grid ends at 0, else the state at the last time.

    Raises:
        DifflabError: for churn outside [0, 1], a ``cond`` that already holds ``xi``,
            or a denoiser returning NaN/Inf or the wrong shape.
    """
    check_churn(churn)
    if cond and "xi" in cond:
        raise DifflabError("cond must not contain 'xi': the distributional sampler draws fresh generator noise")
    run, w = start(denoiser, process, x_T, times, noise, callback, cond)
    base_cond = run.cond
    shape = (run.batch, *process.shape)
    for i, t, s, last in run.steps():
        # Fresh ξ every step: reusing it would correlate the x̂₀ draws and bias the marginals.
        xi = standard_normal(noise, shape, dtype=run.dtype, device=x_T.device)
        w0 = replace(run, cond={**base_cond, "xi": xi}).denoise(w, t, i)  # shape and NaN checks
        run.report(i, t, s, w, w0)
        if last:
            w = w0
            continue
        (a_t, s_t), (a_s, s_s) = run.coeffs(t), run.coeffs(s)
        eps = run.randn() if churn > 0 else None
        w = bridge_step(w, w0, a_t, s_t, a_s, s_s, churn, eps)
    return run.to_data(w)
