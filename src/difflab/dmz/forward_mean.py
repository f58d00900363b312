"""A learned input-dependent forward mean under the terminal constraint, as a loss (issue 15, item 5; a prototype).

DiffEnc / NFDM replace the forward mean α_t x₀ by α_t F_φ(x₀, t), F_φ(x₀, 0) = x₀. In difflab's
variance-preserving notation (γ = log σ²/α², SNR = e^{−γ}, per component) the continuous-time bound's
diffusion term becomes, per sample (derivation in docs/dmz.md, "DMZ and learned forward processes")::

    ½ γ′ e^{−γ} ‖ΔF_t − ∂_t ΔF_t / γ′‖²,   ΔF_u = F_φ(x₀, u) − F_φ(x̂, u),   x̂ = D(x_t, t)

and its terminal term is KL(N(α₁ F_φ(x₀, 1), σ₁²) ‖ N(0, I)), which is what holds a learned mean to
the terminal constraint. With F_φ(x₀, t) = x₀ both reduce to the fixed process's terms.

Only the objective is here, checked against the discrete-time Gaussian KL it is the limit of
(tests/dmz/test_forward_mean.py); no trainer, sampler or measured baseline uses it yet.
Data are flat ``(B, D)``; ``schedule`` is any :class:`~difflab.process.schedules.base.Schedule`.
"""

from collections.abc import Callable

import torch
from torch import Tensor

from difflab.process.schedules.base import Schedule, alpha_sigma_of_gamma

Mean = Callable[[Tensor, Tensor], Tensor]  # F(x, t): (B, D), (B,) -> (B, D); F(x, 0) = x


def diffusion_integrand(mean: Mean, x0: Tensor, x_hat: Tensor, t: Tensor, schedule: Schedule) -> Tensor:
    """``½ γ′ e^{−γ} ‖ΔF − ∂_t ΔF / γ′‖²`` per sample ``(B,)`` for a given prediction ``x_hat``."""
    gamma = schedule.gamma(t).to(x0.dtype)
    dgamma = schedule.dgamma_dt(t).to(x0.dtype)

    def delta(tt: Tensor) -> Tensor:
        return mean(x0, tt) - mean(x_hat, tt)

    # ∂_t through the mean: one forward-mode derivative (the term a fixed mean does not have)
    d_f, d_f_dt = torch.func.jvp(delta, (t,), (torch.ones_like(t),))
    return 0.5 * (dgamma * torch.exp(-gamma) * (d_f - d_f_dt / dgamma) ** 2).sum(-1)


def forward_mean_loss(
    mean: Mean, denoiser: Callable[[Tensor, Tensor], Tensor], x0: Tensor, t: Tensor, eps: Tensor, schedule: Schedule
) -> Tensor:
    """One Monte-Carlo draw of the diffusion term at times ``t``: x_t = α_t F(x₀, t) + σ_t ε, x̂ = D(x_t, t)."""
    alpha, sigma = alpha_sigma_of_gamma(schedule.gamma(t).to(x0.dtype))
    x_t = alpha * mean(x0, t) + sigma * eps
    return diffusion_integrand(mean, x0, denoiser(x_t, t), t, schedule)


def terminal_kl(mean: Mean, x0: Tensor, schedule: Schedule) -> Tensor:
    """KL(q(x₁ | x₀) ‖ N(0, I)) per sample ``(B,)``: ≈ 0 for every x₀ only if α₁ F(x₀, 1) ≈ 0."""
    one = torch.ones(x0.shape[0], dtype=x0.dtype, device=x0.device)
    alpha, sigma = alpha_sigma_of_gamma(schedule.gamma(one).to(x0.dtype))
    m, sigma2 = alpha * mean(x0, one), sigma**2
    return 0.5 * (m**2 + sigma2 - 1 - torch.log(sigma2)).sum(-1)
