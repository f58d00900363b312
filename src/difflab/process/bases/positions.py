"""Spatial positions of pixel-aligned components, for sequential schedules."""

import torch
from torch import Tensor


def grid_positions(shape: tuple[int, ...]) -> Tensor | None:
    """(row, column) in [0, 1] for every entry of a ``(C, H, W)`` layout, flattened.

    Returns ``None`` for vector data, which has no spatial layout.
    """
    if len(shape) != 3:
        return None
    c, h, w = shape
    rows = torch.linspace(0.0, 1.0, h, dtype=torch.float64) if h > 1 else torch.zeros(1, dtype=torch.float64)
    cols = torch.linspace(0.0, 1.0, w, dtype=torch.float64) if w > 1 else torch.zeros(1, dtype=torch.float64)
    r, q = torch.meshgrid(rows, cols, indexing="ij")
    pos = torch.stack([r, q], dim=-1).reshape(1, h * w, 2).expand(c, h * w, 2)
    return pos.reshape(c * h * w, 2).clone()
