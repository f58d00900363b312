"""Sequential (row/column) schedules: one clipped linear γ per component, offset in time.

GUD (arXiv 2410.02667): τ_i ∈ [0, τ_max] from the component's position along
an axis, τ_max = min(1/softness, 0.99),

    γ_i(t) = clip(γ_min + (t − τ_i) Δγ / (1 − τ_max), γ_min, γ_max),

with β_i = 0 where clipped. The first row/column (position 0) gets τ = τ_max:
it is noised last in forward time, so it is *generated first*; the GUD code's
column schedule gives column 0 τ = 0 (generated last) despite its docstring.
"""

import math
from typing import Literal

import torch
from torch import Tensor

from difflab.errors import DifflabError
from difflab.process.schedules.base import Schedule

Axis = Literal["row", "column"]


class Sequential(Schedule):
    """Row- or column-wise sequential schedule.

    Args:
        positions: ``(D, 2)`` (row, column) of each component, as from ``basis.positions``.
        axis: ``row`` (top to bottom) or ``column`` (left to right generation order).
        softness: in (0, ∞]; ∞ gives τ ≡ 0 (the scalar linear schedule), small values
            separate the rows/columns' active windows.
        gamma_min: γ at t = 0 (and while a component waits).
        gamma_max: γ at t = 1 for every component.

    Buffer: ``tau`` ``(D,)`` float64.
    """

    name = "sequential"

    def __init__(
        self,
        positions: Tensor,
        axis: Axis = "column",
        softness: float = math.inf,
        gamma_min: float = -13.3,
        gamma_max: float = 5.0,
    ):
        super().__init__()
        if axis not in ("row", "column"):
            raise DifflabError(f"unknown sequential axis {axis!r}; choose 'row' or 'column'")
        if not softness > 0:
            raise DifflabError(f"softness must be > 0 (inf for standard diffusion), got {softness}")
        if not gamma_max > gamma_min:
            raise DifflabError(f"sequential schedule needs gamma_max > gamma_min, got {gamma_max} <= {gamma_min}")
        pos = torch.as_tensor(positions, dtype=torch.float64)
        if pos.ndim != 2 or pos.shape[1] != 2:
            raise DifflabError(f"sequential schedule needs positions shaped (D, 2), got {tuple(pos.shape)}")
        coord = pos[:, 0 if axis == "row" else 1]
        span = coord.max() - coord.min()
        coord = (coord - coord.min()) / span if span > 0 else torch.zeros_like(coord)
        self.tau_max = 0.0 if math.isinf(softness) else min(1.0 / softness, 0.99)
        self.gamma_min, self.gamma_max = float(gamma_min), float(gamma_max)
        self.slope = (self.gamma_max - self.gamma_min) / (1.0 - self.tau_max)
        self.register_buffer("tau", self.tau_max * (1.0 - coord))

    def _raw(self, t: Tensor) -> Tensor:
        t = torch.as_tensor(t, dtype=torch.float64, device=self.tau.device)
        return self.gamma_min + (t.unsqueeze(-1) - self.tau) * self.slope

    def gamma(self, t: Tensor) -> Tensor:
        return self._raw(t).clamp(self.gamma_min, self.gamma_max)

    def dgamma_dt(self, t: Tensor) -> Tensor:
        raw = self._raw(t)
        inside = (raw > self.gamma_min) & (raw < self.gamma_max)
        return torch.where(inside, torch.full_like(raw, self.slope), torch.zeros_like(raw))
