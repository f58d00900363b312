"""Separable orthonormal bases: one small matrix per spatial axis.

A 2-D transform ``u = M_H x M_Wᵀ`` (per channel) costs O(HW(H+W)) instead of
the O((HW)²) of a dense D×D matrix (GUD, arXiv 2410.02667, uses DCT/Fourier
bases; here they are real and separable). Vector data ``(D,)`` is treated as
a ``(1, 1, D)`` image whose single row is transformed along W only.
"""

import torch
from torch import Tensor

from difflab.errors import DifflabError
from difflab.process.bases.base import Basis


def image_layout(shape: tuple[int, ...], name: str) -> tuple[int, int, int]:
    """``(C, H, W)`` for image shapes, ``(1, 1, D)`` for vectors; anything else is an error."""
    if len(shape) == 3:
        return shape  # type: ignore[return-value]
    if len(shape) == 1:
        return (1, 1, shape[0])
    raise DifflabError(f"{name} basis takes (C, H, W) images or (D,) vectors, got shape {tuple(shape)}")


def frequency_labels(row_freq: Tensor, col_freq: Tensor, channels: int) -> Tensor:
    """|k| = sqrt(k_h² + k_w²) per component, normalised to max 1, repeated per channel, ``(D,)``."""
    mag = torch.sqrt(row_freq[:, None] ** 2 + col_freq[None, :] ** 2)
    mag = mag / mag.max() if mag.max() > 0 else mag
    return mag.reshape(1, -1).expand(channels, -1).reshape(-1).to(torch.float64)


class SeparableBasis(Basis):
    """``u = M_H x M_Wᵀ`` with orthogonal per-axis matrices (rows are 1-D basis vectors).

    Args:
        shape: ``(C, H, W)`` or ``(D,)``.
        rows: ``(H, H)`` orthogonal matrix (``(1, 1)`` identity for vectors).
        cols: ``(W, W)`` orthogonal matrix.
        row_freq: ``(H,)`` frequency (cycles per sample) of each row of ``rows``.
        col_freq: ``(W,)`` frequency of each row of ``cols``.
    """

    def __init__(self, shape: tuple[int, ...], rows: Tensor, cols: Tensor, row_freq: Tensor, col_freq: Tensor):
        super().__init__(shape)
        self.layout = image_layout(self.shape, self.name)
        # Fixed transforms: not persistent, so checkpoints carry no redundant state.
        self.register_buffer("rows", rows.to(torch.float64), persistent=False)
        self.register_buffer("cols", cols.to(torch.float64), persistent=False)
        self._labels = frequency_labels(row_freq.double(), col_freq.double(), self.layout[0])

    def to_components(self, x: Tensor) -> Tensor:
        self.check_shape(x)
        img = x.reshape(x.shape[0], *self.layout)
        u = self.rows.to(x.dtype) @ img @ self.cols.to(x.dtype).T
        return u.reshape(x.shape[0], self.dim)

    def from_components(self, u: Tensor) -> Tensor:
        img = u.reshape(u.shape[0], *self.layout)
        x = self.rows.to(u.dtype).T @ img @ self.cols.to(u.dtype)
        return x.reshape(u.shape[0], *self.shape)

    @property
    def labels(self) -> Tensor:
        return self._labels
