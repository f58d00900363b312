"""The generalised Gaussian bridge step shared by DDIM, DDPM and distributional samplers.

De Bortoli et al., *Distributional Diffusion Models with Scoring Rules*
(arXiv 2502.02483): for ``s < t`` and a clean estimate x̂₀, with
``r_ij = (α_t/α_s)^i (σ_s/σ_t)^j`` and churn ε ∈ [0, 1],

    μ = [ε² r₁₂ + (1 − ε²) r₀₁] x_t + α_s [1 − ε² r₂₂ − (1 − ε²) r₁₁] x̂₀,
    Σ = σ_s² [1 − (ε² r₁₁ + (1 − ε²))²].

ε = 0 is deterministic DDIM (Song et al.) given x̂₀; ε = 1 is the DDPM
posterior q(x_s | x_t, x₀ = x̂₀). For every ε the step maps the marginal at t
to the marginal at s when x̂₀ is exact, because the x_t coefficient is
``c = (σ_s/σ_t) k`` with ``k = ε² r₁₁ + 1 − ε²`` and ``c² σ_t² + Σ = σ_s²``.
(Intermediate ε is not Song's η: ``k² = 1 − η² (1 − r₁₁²)`` there.)
Applied per whitened component (GUD, arXiv 2410.02667), so α, σ are vectors.
"""

import torch
from torch import Tensor

from difflab.errors import DifflabError


def check_churn(churn: float, name: str = "churn") -> float:
    """``churn`` if it is a valid bridge churn ε ∈ [0, 1]; samplers call this once, before any step.

    Raises:
        DifflabError: for a churn outside [0, 1], naming the option as ``name``.
    """
    if not 0.0 <= churn <= 1.0:
        raise DifflabError(f"{name} must be in [0, 1], got {churn}")
    return churn


def bridge_step(
    wt: Tensor,
    w0_hat: Tensor,
    alpha_t: Tensor,
    sigma_t: Tensor,
    alpha_s: Tensor,
    sigma_s: Tensor,
    churn: float,
    eps: Tensor | None,
) -> Tensor:
    """One step ``t -> s`` of the generalised DDIM/DDPM bridge, per component.

    Args:
        wt: state at t, ``(B, D)`` (float64 recommended).
        w0_hat: clean estimate ŵ₀, ``(B, D)``.
        alpha_t: per-component α at t, ``(D,)`` or broadcastable to ``(B, D)``.
        sigma_t: per-component σ at t, likewise.
        alpha_s: per-component α at s, likewise.
        sigma_s: per-component σ at s, likewise.
        churn: ε ∈ [0, 1] (validated once by the sampler, :func:`check_churn`); 0 = DDIM, 1 = DDPM posterior.
        eps: unit Gaussian noise ``(B, D)``; may be ``None`` when ``churn == 0``.

    Returns:
        ``w_s`` of shape ``(B, D)``. Components that do not move
        (α_s = α_t, σ_s = σ_t) are returned unchanged; components already clean
        at t (σ_t = 0) are rescaled by α_s/α_t.
    """
    clean = sigma_t <= 0
    safe_sigma_t = torch.where(clean, torch.ones_like(sigma_t), sigma_t)
    r01 = sigma_s / safe_sigma_t
    r11 = (alpha_t / alpha_s) * r01
    e2 = churn**2
    k = e2 * r11 + (1.0 - e2)  # σ-ratio of the deterministic part: c = r01 k
    c_t = r01 * k
    c_0 = alpha_s * (1.0 - r11 * k)  # = α_s [1 − ε² r₂₂ − (1 − ε²) r₁₁]
    mean = c_t * wt + c_0 * w0_hat
    if churn > 0:
        var = (sigma_s**2 * (1.0 - k**2)).clamp_min(0.0)
        mean = mean + var.sqrt() * eps
    return torch.where(clean, (alpha_s / alpha_t) * wt, mean)
