"""Scalar schedules shared by all components (standard diffusion).

Constants follow the GUD public code (arXiv 2410.02667): linear γ from -13.3
to 5.0, VP/DDPM linear β from 0.1 to 20, cosine with s = 0.008.
"""

import math

import torch
from torch import Tensor

from difflab.process.schedules.base import Schedule


def _as64(t: Tensor) -> Tensor:
    return torch.as_tensor(t, dtype=torch.float64)


class LinearGamma(Schedule):
    """γ(t) = γ_min + t (γ_max - γ_min)."""

    name = "linear"

    def __init__(self, gamma_min: float = -13.3, gamma_max: float = 5.0):
        super().__init__()
        self.gamma_min, self.gamma_max = float(gamma_min), float(gamma_max)

    def gamma(self, t: Tensor) -> Tensor:
        t = _as64(t)
        return (self.gamma_min + t * (self.gamma_max - self.gamma_min)).unsqueeze(-1)

    def dgamma_dt(self, t: Tensor) -> Tensor:
        t = _as64(t)
        return torch.full_like(t, self.gamma_max - self.gamma_min).unsqueeze(-1)


class CosineSchedule(Schedule):
    """Nichol & Dhariwal cosine: α²(t) = cos²(π/2 (t+s)/(1+s)) / cos²(π/2 s/(1+s)).

    Clamped to ``[gamma_min, gamma_max]`` so both ends stay finite; γ_max = 10
    leaves α(1) ≈ 0.007, close to the N(0, I) prior the sampler starts from.
    """

    name = "cosine"

    def __init__(self, s: float = 0.008, gamma_min: float = -13.3, gamma_max: float = 10.0):
        super().__init__()
        self.s, self.gamma_min, self.gamma_max = float(s), float(gamma_min), float(gamma_max)

    def _raw(self, t: Tensor) -> tuple[Tensor, Tensor]:
        s = self.s
        phase = 0.5 * math.pi * (t + s) / (1 + s)
        phase0 = 0.5 * math.pi * s / (1 + s)
        a2 = torch.cos(phase) ** 2 / math.cos(phase0) ** 2
        a2 = a2.clamp(1e-30, 1.0 - 1e-30)
        gamma = torch.log1p(-a2) - torch.log(a2)  # log(σ²/α²)
        # dγ/dt = d/dt[log(1-a2) - log a2] = -a2'/((1-a2) a2), a2' = -π/(1+s) tan(phase) a2
        da2 = -math.pi / (1 + s) * torch.tan(phase) * a2
        dgamma = -da2 / ((1 - a2) * a2)
        return gamma, dgamma

    def gamma(self, t: Tensor) -> Tensor:
        g, _ = self._raw(_as64(t))
        return g.clamp(self.gamma_min, self.gamma_max).unsqueeze(-1)

    def dgamma_dt(self, t: Tensor) -> Tensor:
        g, dg = self._raw(_as64(t))
        inside = (g > self.gamma_min) & (g < self.gamma_max)
        return torch.where(inside, dg, torch.zeros_like(dg)).unsqueeze(-1)


class DDPMLinearBeta(Schedule):
    """VP-SDE with linear β(t) = β_min + t (β_max - β_min) (DDPM's schedule in continuous time).

    α²(t) = exp(-∫β) = exp(-(β_min t + ½ (β_max - β_min) t²)), so
    γ = log(expm1(B(t))) with B the integral.
    """

    name = "ddpm"

    def __init__(self, beta_min: float = 0.1, beta_max: float = 20.0, t_min: float = 1e-5):
        super().__init__()
        self.beta_min, self.beta_max, self.t_min = float(beta_min), float(beta_max), float(t_min)

    def _integral(self, t: Tensor) -> Tensor:
        t = t.clamp_min(self.t_min)  # keeps γ(0) finite
        return self.beta_min * t + 0.5 * (self.beta_max - self.beta_min) * t**2

    def gamma(self, t: Tensor) -> Tensor:
        return torch.log(torch.expm1(self._integral(_as64(t)))).unsqueeze(-1)

    def dgamma_dt(self, t: Tensor) -> Tensor:
        t = _as64(t)
        big_b = self._integral(t)
        b = self.beta_min + t.clamp_min(self.t_min) * (self.beta_max - self.beta_min)
        # d/dt log(e^B - 1) = β e^B / (e^B - 1) = β / (1 - e^{-B})
        return (b / -torch.expm1(-big_b)).unsqueeze(-1)
