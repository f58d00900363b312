"""The basis contract: an orthonormal map between data layout and components.

GUD (Gerdes, Welling, Cheng, arXiv 2410.02667) runs diffusion on u = U x for an
orthogonal U. Every basis here maps a batch in data layout ``(B, *shape)`` to
flattened components ``(B, D)`` and back, exactly and differentiably.
"""

from abc import ABC, abstractmethod
from math import prod

import torch
from torch import Tensor, nn

from difflab.errors import DifflabError


class Basis(nn.Module, ABC):
    """Orthonormal basis of the data space.

    Attributes:
        shape: per-example data shape, e.g. ``(C, H, W)`` or ``(D,)``.
        dim: number of components ``D = prod(shape)``.
    """

    name: str = "basis"
    needs_data: bool = False  # True when :meth:`fit` must see training data before use (PCA)

    def __init__(self, shape: tuple[int, ...]):
        super().__init__()
        self.shape = tuple(int(s) for s in shape)
        self.dim = prod(self.shape)

    @abstractmethod
    def to_components(self, x: Tensor) -> Tensor:
        """Map ``x`` of shape ``(B, *shape)`` to components ``(B, D)``."""

    @abstractmethod
    def from_components(self, u: Tensor) -> Tensor:
        """Map components ``(B, D)`` back to data layout ``(B, *shape)``."""

    @property
    @abstractmethod
    def labels(self) -> Tensor:
        """Ordering value per component, ``(D,)`` float64.

        Higher means "finer": lower SNR throughout, generated later under soft
        conditioning (frequency magnitude, wavelet scale, PCA rank).
        """

    @property
    def positions(self) -> Tensor | None:
        """Spatial position ``(D, 2)`` (row, column) in [0, 1] of each component.

        Only bases whose components are localised (pixel, Haar) have one;
        sequential row/column schedules need it.
        """
        return None

    def fit(self, data: Tensor) -> None:
        """Fit data-dependent state (PCA); a no-op for fixed bases."""

    def check_shape(self, x: Tensor) -> None:
        """Raise a clear error when ``x`` is not ``(B, *shape)``."""
        if tuple(x.shape[1:]) != self.shape:
            raise DifflabError(
                f"{self.name} basis expects inputs shaped (B, {', '.join(map(str, self.shape))}), got {tuple(x.shape)}"
            )

    def matrix(self, dtype: torch.dtype = torch.float64) -> Tensor:
        """Dense ``U`` of shape ``(D, D)`` (rows are components); for tests and oracles."""
        device = next((b.device for b in self.buffers()), torch.device("cpu"))
        eye = torch.eye(self.dim, dtype=dtype, device=device).reshape(self.dim, *self.shape)
        # Columns of U are the components of the standard basis vectors.
        return self.to_components(eye).T.contiguous()
