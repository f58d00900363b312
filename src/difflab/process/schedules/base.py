"""The schedule contract: per-component log noise-to-signal ratio γ_i(t).

Variance preserving throughout (GUD, arXiv 2410.02667):
α_i² = sigmoid(-γ_i(t)), σ_i² = sigmoid(γ_i(t)), β_i = σ_i² dγ_i/dt.
Time runs from t = 0 (data) to t = 1 (noise).
"""

from abc import ABC, abstractmethod

import torch
from torch import Tensor, nn


class Schedule(nn.Module, ABC):
    """γ(t) for every component; scalar schedules broadcast one γ to all.

    Implementations compute in float64 and return shape ``(*t.shape, D)`` for
    component-wise schedules or ``(*t.shape, 1)`` for scalar ones.
    """

    name: str = "schedule"

    @abstractmethod
    def gamma(self, t: Tensor) -> Tensor:
        """Log noise-to-signal ratio ``(*t.shape, D or 1)``, float64."""

    @abstractmethod
    def dgamma_dt(self, t: Tensor) -> Tensor:
        """Analytic time derivative of :meth:`gamma`, same shape."""

    def beta(self, t: Tensor) -> Tensor:
        """Instantaneous noise rate β = σ² dγ/dt (zero where a component is frozen)."""
        return torch.sigmoid(self.gamma(t)) * self.dgamma_dt(t)

    def gamma_range(self) -> tuple[float, float]:
        """(min over components of γ(0), max over components of γ(1)), for log-SNR grids."""
        t = torch.tensor([0.0, 1.0], dtype=torch.float64)
        g = self.gamma(t)
        return float(g[0].min()), float(g[1].max())
