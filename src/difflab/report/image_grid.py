"""Sample grids as PNG files (Pillow), upscaled with nearest so 8x8 digits are visible."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from difflab.errors import DifflabError
from difflab.io.atomic import atomic_open

__all__ = ["auto_upscale", "make_grid", "save_image_grid"]


def auto_upscale(height: int, width: int, target: int = 64) -> int:
    """Integer nearest-neighbour factor that brings the longer side to at least ``target`` pixels."""
    return max(1, math.ceil(target / max(height, width)))


def make_grid(
    images: torch.Tensor | np.ndarray,
    *,
    nrow: int | None = None,
    value_range: tuple[float, float] = (-1.0, 1.0),
    upscale: int | None = None,
    padding: int = 1,
    pad_value: float = 1.0,
) -> np.ndarray:
    """Tile images into one uint8 array.

    Args:
        images: ``(N, C, H, W)`` with C in {1, 3}, or ``(N, H, W)`` grayscale.
        nrow: Images per row (as in torchvision); default ``ceil(sqrt(N))``.
        value_range: ``(low, high)`` mapped to black and white; values outside are clipped.
        upscale: Integer nearest-neighbour factor per image; default :func:`auto_upscale`.
        padding: Pixels between and around images (not upscaled).
        pad_value: Padding brightness in [0, 1].

    Returns:
        ``(rows * H * s + (rows + 1) * padding, ncol * W * s + (ncol + 1) * padding, C)`` uint8,
        where ``s`` is the upscale factor and ``ncol = min(nrow, N)``.
    """
    x = images.detach().float().cpu().numpy() if isinstance(images, torch.Tensor) else np.asarray(images, float)
    if x.ndim == 3:
        x = x[:, None]
    if x.ndim != 4 or x.shape[1] not in (1, 3) or x.shape[0] == 0:
        raise DifflabError(f"image grid needs a non-empty (N, C, H, W) batch with C 1 or 3, got shape {tuple(x.shape)}")
    low, high = value_range
    if not high > low:
        raise DifflabError(f"value_range must be (low, high) with high > low, got {value_range}")
    n, c, h, w = x.shape
    s = auto_upscale(h, w) if upscale is None else int(upscale)
    if s < 1 or padding < 0:
        raise DifflabError(f"upscale must be >= 1 and padding >= 0, got {upscale} and {padding}")
    ncol = min(nrow or math.ceil(math.sqrt(n)), n)
    rows = math.ceil(n / ncol)
    x = np.nan_to_num((x - low) / (high - low), nan=0.0).clip(0.0, 1.0)
    x = x.repeat(s, axis=2).repeat(s, axis=3).transpose(0, 2, 3, 1)  # (N, H*s, W*s, C)
    hs, ws = h * s, w * s
    grid = np.full((rows * hs + (rows + 1) * padding, ncol * ws + (ncol + 1) * padding, c), pad_value, float)
    for i in range(n):
        r, col = divmod(i, ncol)
        top, left = padding + r * (hs + padding), padding + col * (ws + padding)
        grid[top : top + hs, left : left + ws] = x[i]
    return np.round(grid * 255.0).astype(np.uint8)


def save_image_grid(
    images: torch.Tensor | np.ndarray,
    path: str | Path,
    *,
    nrow: int | None = None,
    value_range: tuple[float, float] = (-1.0, 1.0),
    upscale: int | None = None,
    padding: int = 1,
    pad_value: float = 1.0,
) -> Path:
    """Save a grid of images (``(N, C, H, W)``) atomically; see :func:`make_grid` for the arguments.

    Returns:
        ``path``. The format follows the suffix (PNG when unknown).
    """
    grid = make_grid(images, nrow=nrow, value_range=value_range, upscale=upscale, padding=padding, pad_value=pad_value)
    image = Image.fromarray(grid[..., 0] if grid.shape[2] == 1 else grid)  # uint8 2-D -> "L", (H, W, 3) -> "RGB"
    path = Path(path)
    fmt = Image.registered_extensions().get(path.suffix.lower(), "PNG")
    with atomic_open(path, "wb") as f:
        image.save(f, format=fmt)
    return path
