"""Heun's method (2nd order) on the probability-flow ODE, per whitened component.

The PF-ODE of GUD's component-wise VP process (arXiv 2410.02667) in whitened
components is ``dw/dt = −½ β (w + ∇ log p_t(w))`` with ``β_i = σ_i² dγ_i/dt``.
With ``y_i = w_i / α_i`` and ``ν_i = σ_i / α_i = exp(γ_i / 2)`` it is exactly

    dy_i / dν_i = (y_i − ŵ₀_i) / ν_i,

the EDM form (Karras et al. 2022, Algorithm 1) with one noise level per
component. Heun steps in each component's own ν_i: the Euler predictor is the
DDIM step, the trapezoidal corrector makes it second order. Working in ν rather
than t avoids the stiffness of β near t = 1 and the kinks of clamped schedules;
components whose ν does not change are frozen. The last step (to t = 0) is an
Euler step to ν = 0, i.e. it returns x̂₀.
"""

from torch import Tensor

from difflab.process.noise import NoiseLike
from difflab.process.process import Process
from difflab.sampling._common import Callback, Denoiser, start


def sample_heun(
    denoiser: Denoiser,
    process: Process,
    x_T: Tensor,
    times: Tensor,
    *,
    noise: NoiseLike = None,
    callback: Callback | None = None,
    cond: dict | None = None,
) -> Tensor:
    """Deterministic Heun sampler: two denoiser calls per step (one on the last step).

    Args:
        denoiser: ``denoiser(x_t (B, *shape), t (B,), **cond) -> x̂₀``.
        process: the forward process.
        x_T: start state ``(B, *shape)``; its dtype is the denoiser's.
        times: strictly decreasing grid ``(n + 1,)``.
        noise: unused (the ODE is deterministic); accepted for a uniform signature.
        callback: ``callback(step_index, t, s, x_t, x0_hat)`` once per step, with
            the x̂₀ at ``t``.
        cond: keyword arguments passed to the denoiser.

    Returns:
        ``x_0`` in data layout ``(B, *shape)``.
    """
    run, w = start(denoiser, process, x_T, times, noise, callback, cond)
    for i, t, s, last in run.steps():
        w0 = run.denoise(w, t, i)
        run.report(i, t, s, w, w0)
        if last:
            w = w0
            continue
        (a_t, s_t), (a_s, s_s) = run.coeffs(t), run.coeffs(s)
        nu_t, nu_s = s_t / a_t, s_s / a_s
        y = w / a_t
        d = (y - w0) / nu_t
        y_pred = y + (nu_s - nu_t) * d  # Euler (= DDIM)
        d_pred = (y_pred - run.denoise(a_s * y_pred, s, i)) / nu_s
        w = a_s * (y + (nu_s - nu_t) * 0.5 * (d + d_pred))
    return run.to_data(w)
