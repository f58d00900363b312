"""Samples as a folder of numbered PNGs (``000000.png`` …), the input torch-fidelity and clean-fid read.

Each image is one file at its own resolution (no upscaling, no grid), in the data's own range: the
run's normaliser decodes it and its ``value_range`` maps to 0…255 (8-bit images come back as the
8-bit values they were; digits' 0…16 becomes 0…255). Without a value range, [-1, 1] is used.
1 channel is written as grayscale ``L``, 3 as ``RGB``. The folder appears at once (see
:func:`difflab.io.atomic.atomic_dir`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image

from difflab.errors import DifflabError
from difflab.io.atomic import atomic_dir

__all__ = ["image_folder_names", "save_image_folder", "to_uint8_images"]


def image_folder_names(n: int) -> list[str]:
    """File names of ``n`` images: ``000000.png`` … (at least six digits, more if ``n`` needs them)."""
    width = max(6, len(str(max(n - 1, 0))))
    return [f"{i:0{width}d}.png" for i in range(n)]


def to_uint8_images(samples: torch.Tensor, normaliser=None) -> np.ndarray:
    """``(N, C, H, W)`` normalised samples -> ``(N, H, W, C)`` uint8 in the data's range.

    Raises:
        DifflabError: not an image batch with 1 or 3 channels.
    """
    if samples.ndim != 4 or samples.shape[1] not in (1, 3):
        raise DifflabError(
            f"numbered PNGs need images (N, C, H, W) with 1 or 3 channels, got {tuple(samples.shape)}; write .npy"
        )
    x = samples.detach().double().cpu()
    if normaliser is not None and normaliser.value_range is not None:
        low, high = normaliser.value_range
        x = normaliser.decode(x)
        x = torch.as_tensor(x, dtype=torch.float64)
    else:
        low, high = -1.0, 1.0
    unit = torch.nan_to_num((x - low) / (high - low), nan=0.0).clamp(0.0, 1.0)
    return torch.round(unit * 255.0).to(torch.uint8).permute(0, 2, 3, 1).numpy()


def save_image_folder(samples: torch.Tensor, folder: str | Path, *, normaliser=None) -> list[Path]:
    """Write ``samples`` as ``folder/000000.png`` …, atomically (a temp folder renamed at the end).

    Args:
        samples: ``(N, C, H, W)`` normalised images, C 1 or 3.
        folder: a new folder, or an empty one.
        normaliser: the run's :class:`~difflab.data.Normaliser` (its ``value_range`` maps to 0…255).

    Returns:
        The written paths, in sample order.

    Raises:
        DifflabError: not images, or ``folder`` exists and is not an empty folder.
    """
    images = to_uint8_images(samples, normaliser)
    folder = Path(folder)
    names = image_folder_names(len(images))
    try:
        with atomic_dir(folder) as tmp:
            for name, image in zip(names, images, strict=True):
                Image.fromarray(image[..., 0] if image.shape[2] == 1 else image).save(tmp / name, format="PNG")
    except FileExistsError:
        raise DifflabError(
            f"{folder} already exists and is not an empty folder; give a new folder so no old image mixes in"
        ) from None
    return [folder / name for name in names]
