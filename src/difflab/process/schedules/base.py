"""The schedule contract: per-component log noise-to-signal ratio γ_i(t).

Variance preserving throughout (GUD, arXiv 2410.02667):
α_i² = sigmoid(-γ_i(t)), σ_i² = sigmoid(γ_i(t)), β_i = σ_i² dγ_i/dt.
Time runs from t = 0 (data) to t = 1 (noise).
"""

from abc import ABC, abstractmethod

import torch
from torch import Tensor, nn


def alpha_sigma_of_gamma(gamma: Tensor) -> tuple[Tensor, Tensor]:
    """α = sqrt(sigmoid(−γ)), σ = sqrt(sigmoid(γ)): the one place the VP relation is written."""
    return torch.sigmoid(-gamma).sqrt(), torch.sigmoid(gamma).sqrt()


class Schedule(nn.Module, ABC):
    """γ(t) for every component; scalar schedules broadcast one γ to all.

    Implementations compute in float64 and return shape ``(*t.shape, D)`` for
    component-wise schedules or ``(*t.shape, 1)`` for scalar ones.
    """

    name: str = "schedule"
    # True when building needs per-component data variances (soft conditioning); such a
    # schedule also offers ``placeholder(dim)`` for loading a checkpoint with no data.
    needs_data: bool = False

    @abstractmethod
    def gamma(self, t: Tensor) -> Tensor:
        """Log noise-to-signal ratio ``(*t.shape, D or 1)``, float64."""

    @abstractmethod
    def dgamma_dt(self, t: Tensor) -> Tensor:
        """Analytic time derivative of :meth:`gamma`, same shape."""

    def beta(self, t: Tensor, dim: int | None = None) -> Tensor:
        """Instantaneous noise rate β = σ² dγ/dt (zero where a component is frozen).

        The one β: the SDE sampler reads it through ``Process.beta``. Shape of :meth:`gamma`,
        or ``(*t.shape, dim)`` when ``dim`` is given.
        """
        g, dg = self.gamma(t), self.dgamma_dt(t)
        if dim is not None:
            g, dg = g.expand(*t.shape, dim), dg.expand(*t.shape, dim)
        # σ² is squared from σ = √sigmoid(γ) over the expanded γ, exactly as Process.alpha_sigma
        # computes σ, so β is bit for bit the samplers' σ(t)² dγ/dt (sigmoid(γ) alone can differ by an ulp).
        return torch.sigmoid(g).sqrt() ** 2 * dg
