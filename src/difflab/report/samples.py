"""One picture of a batch of samples, whatever the data: a grid of images or a scatter of 2-D points."""

from __future__ import annotations

from pathlib import Path

import torch

from difflab.report.image_grid import save_image_grid
from difflab.report.plots import save_scatter

__all__ = ["save_samples_picture"]


def save_samples_picture(samples: torch.Tensor, path: Path, n: int = 64) -> Path | None:
    """A grid for images, a scatter for 2-D points; nothing for other vectors."""
    if samples.ndim == 4:
        save_image_grid(samples[:n].clamp(-1, 1), path)
        return path
    if samples.ndim == 2 and samples.shape[1] == 2:
        save_scatter(samples, path)
        return path
    return None
