"""One picture of a batch of samples, whatever the data: a grid of images or a scatter of 2-D points."""

from __future__ import annotations

from pathlib import Path

import torch

from difflab.report.image_grid import save_image_grid
from difflab.report.plots import save_scatter

__all__ = ["save_samples_picture"]


def save_samples_picture(samples: torch.Tensor, path: Path, n: int = 64, normaliser=None) -> Path | None:
    """A grid for images, a scatter for 2-D points; nothing for other vectors.

    With ``normaliser`` (a run's :class:`~difflab.data.Normaliser`), 2-D points are drawn in the
    data's own units, like the ``.npy`` that ``difflab sample`` writes; images stay in [-1, 1].
    """
    if samples.ndim == 4:
        save_image_grid(samples[:n].clamp(-1, 1), path)
        return path
    if samples.ndim == 2 and samples.shape[1] == 2:
        points = samples if normaliser is None else normaliser.decode(samples)
        save_scatter(points, path, title=None if normaliser is None else "samples (data units)")
        return path
    return None
