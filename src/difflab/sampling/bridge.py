"""The generalised Gaussian bridge step shared by DDIM, DDPM and distributional samplers.

De Bortoli et al., *Distributional Diffusion Models with Scoring Rules*
(arXiv 2502.02483): for ``s < t`` and a clean estimate x̂₀, with
``r_ij = (α_t/α_s)^i (σ_s/σ_t)^j``, every step of this family is

    μ = (σ_s/σ_t) k x_t + α_s (1 − r₁₁ k) x̂₀,    Σ = σ_s² (1 − k²),

for a σ-ratio ``k`` ∈ [r₁₁, 1] of the deterministic part (k = 1: DDIM, k = r₁₁:
the DDPM posterior q(x_s | x_t, x₀ = x̂₀)). For every k the step maps the
marginal at t to the marginal at s when x̂₀ is exact, because the x_t
coefficient is ``c = (σ_s/σ_t) k`` and ``c² σ_t² + Σ = σ_s²``. Two ways to
choose k, each with its own option (:func:`bridge_k`):

- the distributional paper's **churn** ε ∈ [0, 1]: ``k = ε² r₁₁ + 1 − ε²``;
- the DDIM paper's **η** (Song, Meng, Ermon 2021, eq. 16; diffusers' ``DDIMScheduler(eta)``):
  ``Σ = η² σ_s² (1 − r₁₁²)``, i.e. η times the posterior standard deviation, so
  ``k = √(1 − η² (1 − r₁₁²))``. In VP form ``σ_s² (1 − r₁₁²) = (1−ᾱ_s)/(1−ᾱ_t) (1 − ᾱ_t/ᾱ_s)``.

The two agree at 0 (DDIM) and 1 (DDPM posterior) and differ in between (churn
injects more noise than η). DDPM's ``fixed_large`` variance (Ho et al. 2020,
σ² = β_t) keeps the posterior mean (k = r₁₁) and replaces Σ by the forward
transition variance ``σ_{t|s}² = σ_t² − (α_t/α_s)² σ_s² = σ_t² (1 − r₁₁²)``
(for a strided VP step, ``1 − ᾱ_t/ᾱ_s``: diffusers' ``current_beta_t``).
Applied per whitened component (GUD, arXiv 2410.02667), so α, σ are vectors.
"""

from typing import Literal

import torch
from torch import Tensor

from difflab.errors import DifflabError

Rule = Literal["churn", "eta"]
Variance = Literal["bridge", "fixed_large"]


def check_churn(churn: float, name: str = "churn") -> float:
    """``churn`` if it is a valid bridge churn ε (or DDIM η) in [0, 1]; samplers call this once, before any step.

    Raises:
        DifflabError: for a value outside [0, 1], naming the option as ``name``.
    """
    if not 0.0 <= churn <= 1.0:
        raise DifflabError(f"{name} must be in [0, 1], got {churn}")
    return churn


def bridge_k(r11: Tensor, level: float, rule: Rule = "churn") -> Tensor:
    """The σ-ratio k of the deterministic part for a noise ``level`` under ``rule`` (module docstring).

    Args:
        r11: ``(α_t/α_s)(σ_s/σ_t)`` per component, in [0, 1].
        level: churn ε (``rule="churn"``) or DDIM η (``rule="eta"``), in [0, 1].
        rule: which parameterisation ``level`` is.
    """
    e2 = level**2
    if rule == "churn":
        return e2 * r11 + (1.0 - e2)
    if rule == "eta":
        return (1.0 - e2 * (1.0 - r11**2)).clamp_min(0.0).sqrt()
    raise ValueError(f"unknown bridge rule {rule!r}")


def bridge_step(
    wt: Tensor,
    w0_hat: Tensor,
    alpha_t: Tensor,
    sigma_t: Tensor,
    alpha_s: Tensor,
    sigma_s: Tensor,
    churn: float,
    eps: Tensor | None,
    *,
    rule: Rule = "churn",
    variance: Variance = "bridge",
) -> Tensor:
    """One step ``t -> s`` of the generalised DDIM/DDPM bridge, per component.

    Args:
        wt: state at t, ``(B, D)`` (float64 recommended).
        w0_hat: clean estimate ŵ₀, ``(B, D)``.
        alpha_t: per-component α at t, ``(D,)`` or broadcastable to ``(B, D)``.
        sigma_t: per-component σ at t, likewise.
        alpha_s: per-component α at s, likewise.
        sigma_s: per-component σ at s, likewise.
        churn: the noise level in [0, 1] (validated once by the sampler, :func:`check_churn`): the churn ε
            (``rule="churn"``) or the DDIM η (``rule="eta"``); 0 = DDIM, 1 = DDPM posterior either way.
        eps: unit Gaussian noise ``(B, D)``; may be ``None`` when ``churn == 0``.
        rule: ``"churn"`` (distributional paper) or ``"eta"`` (DDIM paper), see :func:`bridge_k`.
        variance: ``"bridge"`` (Σ = σ_s²(1 − k²)) or ``"fixed_large"`` (DDPM's σ² = β_t: the
            forward transition variance σ_t² − (α_t/α_s)² σ_s², with the same mean).

    Returns:
        ``w_s`` of shape ``(B, D)``. Components that do not move
        (α_s = α_t, σ_s = σ_t) are returned unchanged; components already clean
        at t (σ_t = 0) are rescaled by α_s/α_t.
    """
    clean = sigma_t <= 0
    safe_sigma_t = torch.where(clean, torch.ones_like(sigma_t), sigma_t)
    r01 = sigma_s / safe_sigma_t
    r11 = (alpha_t / alpha_s) * r01
    k = bridge_k(r11, churn, rule)
    c_t = r01 * k
    c_0 = alpha_s * (1.0 - r11 * k)  # churn rule: α_s [1 − ε² r₂₂ − (1 − ε²) r₁₁]
    mean = c_t * wt + c_0 * w0_hat
    if churn > 0:
        if variance == "fixed_large":
            var = (sigma_t**2 - (alpha_t / alpha_s) ** 2 * sigma_s**2).clamp_min(0.0)
        else:
            var = (sigma_s**2 * (1.0 - k**2)).clamp_min(0.0)
        mean = mean + var.sqrt() * eps
    return torch.where(clean, (alpha_s / alpha_t) * wt, mean)
