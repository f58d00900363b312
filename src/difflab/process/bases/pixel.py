"""The identity basis: standard diffusion acts on pixels directly."""

import torch
from torch import Tensor

from difflab.process.bases.base import Basis
from difflab.process.bases.positions import grid_positions


class PixelBasis(Basis):
    """Identity map; components are the pixels (or vector entries) in order."""

    name = "pixel"

    def to_components(self, x: Tensor) -> Tensor:
        self.check_shape(x)
        return x.reshape(x.shape[0], self.dim)

    def from_components(self, u: Tensor) -> Tensor:
        return u.reshape(u.shape[0], *self.shape)

    @property
    def labels(self) -> Tensor:
        # No natural order among pixels: all equal, so soft conditioning is standard diffusion.
        return torch.zeros(self.dim, dtype=torch.float64)

    @property
    def positions(self) -> Tensor | None:
        return grid_positions(self.shape)
