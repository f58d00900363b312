"""Training-time choices of t and per-component loss weights (``train.time_sampling``, ``train.loss_weight``).

**Time sampling.** ``uniform`` (the default): stratified uniform t in [0, 1). ``lognormal``: EDM's
training noise distribution (Karras et al. 2022, arXiv 2206.00364, Table 1: ln σ ~ N(P_mean, P_std²),
P_mean = -1.2, P_std = 1.2). The EDM noise level of this variance-preserving process is ν = σ/α = e^{γ/2};
for a component-wise schedule (soft, sequential) each component has its own ν_i, and ν is the
*mean-log-SNR* level ν̄(t) = exp(-λ̄(t)/2), λ̄ = mean_i log(α_i²/σ_i²) — the same reference the EDM
sampling grid uses (``sampling/grids.py::edm``). A drawn ν maps to t = λ̄⁻¹(-2 ln ν) by bisection
(``sampling/grids.py::time_at_mean_logsnr``); a ν outside the process's range [ν̄(0), ν̄(1)] lands on
t = 0 or t = 1. The normal draws are stratified like the uniform ones (Φ⁻¹ of stratified uniforms), so
the marginal is exactly log-normal with less batch-to-batch variance.

**Loss weighting.** ``min_snr``: Min-SNR-γ (Hang et al. 2023, arXiv 2303.09556, Eq. 8 and Sec. 3.4):
the x₀-MSE is weighted by min(SNR, γ), SNR = α²/σ²; since ‖ε̂-ε‖² = SNR‖x̂₀-x₀‖² and
‖v̂-v‖² = (SNR+1)‖x̂₀-x₀‖², the same weighting of an ε target is min(SNR, γ)/SNR and of a v target
min(SNR, γ)/(SNR + 1). It is applied per component with that component's SNR_i = e^{-γ_i(t)}
(one factor per sample for a scalar schedule).
"""

import torch
from torch import Tensor

from difflab.process.process import Process
from difflab.sampling.grids import time_at_mean_logsnr

EDM_P_MEAN = -1.2
EDM_P_STD = 1.2


def lognormal_times(
    process: Process, u: Tensor, p_mean: float = EDM_P_MEAN, p_std: float = EDM_P_STD
) -> tuple[Tensor, Tensor]:
    """EDM log-normal noise levels ln ν = p_mean + p_std Φ⁻¹(u) and their times.

    Args:
        process: supplies λ̄(t).
        u: uniforms in [0, 1) ``(B,)`` (stratified: ``objectives/regression.py::stratified_times``).
        p_mean: mean of ln ν.
        p_std: standard deviation of ln ν.

    Returns:
        ``(t, log_nu)``: times ``(B,)`` float64 in [0, 1] on the CPU and the drawn ln ν ``(B,)`` float64.
    """
    u = u.detach().double().cpu().clamp(1e-12, 1 - 1e-12)
    log_nu = p_mean + p_std * torch.special.ndtri(u)
    return time_at_mean_logsnr(process, -2.0 * log_nu), log_nu


def min_snr_weight(prediction: str, alpha: Tensor, sigma: Tensor, gamma: float) -> Tensor:
    """Min-SNR-γ weight of the squared error on ``prediction``'s target, the shape of ``alpha``.

    ``x0``: min(SNR, γ); ``eps``/``eps_gud``: min(SNR, γ)/SNR; ``v``: min(SNR, γ)/(SNR + 1), SNR = α²/σ².
    """
    snr = (alpha.double() / sigma.double()).pow(2)
    if prediction == "x0":
        return snr.clamp(max=gamma)
    if prediction in ("eps", "eps_gud"):
        return (gamma / snr).clamp(max=1.0)  # = min(SNR, γ)/SNR, and 1 (not 0/0) where SNR = 0
    return snr.clamp(max=gamma) / (snr + 1)
