"""A directory of PNG/JPEG images as a dataset.

Images in sub-folders are labelled by sub-folder (sorted names -> 0, 1, ...),
like torchvision's ``ImageFolder``; a flat folder gives an unlabelled dataset.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np
from PIL import Image, UnidentifiedImageError

from difflab.data._common import (
    as_float_tensor,
    as_label_tensor,
    check_choice,
    check_fraction,
    check_int,
    split_indices,
    unit_image_normaliser,
)
from difflab.data.base import Dataset
from difflab.errors import DifflabError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


def read_image(path: Path, size: int, channels: Literal[1, 3]) -> np.ndarray:
    """Read, resize the shorter side to ``size``, centre-crop.

    Returns:
        ``(channels, size, size)`` float64 in [0, 1].
    """
    try:
        with Image.open(path) as img:
            img = img.convert("L" if channels == 1 else "RGB")
    except (OSError, UnidentifiedImageError, SyntaxError, ValueError) as err:
        raise DifflabError(f"folder: cannot read image {path} ({type(err).__name__}); fix or remove it") from None
    w, h = img.size
    ratio = size / min(w, h)
    new_w, new_h = max(size, round(w * ratio)), max(size, round(h * ratio))
    img = img.resize((new_w, new_h), Image.Resampling.BICUBIC)
    left, top = (new_w - size) // 2, (new_h - size) // 2
    arr = np.asarray(img.crop((left, top, left + size, top + size)), dtype=np.float64) / 255.0
    return arr[None] if channels == 1 else arr.transpose(2, 0, 1)


def load_folder(
    *, path: str, size: int = 32, channels: Literal[1, 3] = 3, test_fraction: float = 0.1, seed: int = 0
) -> Dataset:
    """All PNG/JPEG images under ``path`` (recursively), ``(channels, size, size)`` in [-1, 1].

    Args:
        path: Directory of images; sub-folders become class labels.
        size: Output side; the shorter side is resized to it, then centre-cropped.
        channels: 1 (grayscale) or 3 (RGB).
        test_fraction: Share of images held out for test.
        seed: Seed of the train/test split.
    """
    size = check_int("folder", "size", size, minimum=2)
    check_choice("folder", "channels", channels, (1, 3))
    test_fraction = check_fraction("folder", "test_fraction", test_fraction)
    seed = check_int("folder", "seed", seed, minimum=0)
    root = Path(path).expanduser()
    if not root.is_dir():
        raise DifflabError(f"folder: {root} is not a directory")
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise DifflabError(f"folder: no PNG/JPEG images found in {root}")
    x = np.stack([read_image(p, size, channels) for p in files])
    classes = sorted({p.parent.relative_to(root).as_posix() for p in files})
    labelled = len(classes) > 1 and "." not in classes
    y = np.array([classes.index(p.parent.relative_to(root).as_posix()) for p in files]) if labelled else None
    tr, te = split_indices("folder", len(files), test_fraction, seed)
    norm = unit_image_normaliser()
    return Dataset(
        name="folder",
        train=as_float_tensor(norm.encode(x[tr])),
        test=as_float_tensor(norm.encode(x[te])),
        train_labels=as_label_tensor(None if y is None else y[tr]),
        test_labels=as_label_tensor(None if y is None else y[te]),
        num_classes=len(classes) if labelled else 0,
        normaliser=norm,
        meta={"path": str(root), "class_names": classes if labelled else []},
    )
