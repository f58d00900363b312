"""A directory of PNG/JPEG images as a dataset.

Images in sub-folders are labelled by sub-folder (sorted names -> 0, 1, ...),
like torchvision's ``ImageFolder``; a flat folder gives an unlabelled dataset.
"""

from __future__ import annotations

import warnings
from collections import Counter
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
    check_path,
    split_indices,
    unit_image_normaliser,
)
from difflab.data.base import Dataset
from difflab.data.stream import StreamedExamples, fit_subset, wants_stream
from difflab.errors import DifflabError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
MAX_SIZE = 4096
SIXTEEN_BIT_MODES = ("I;16", "I;16L", "I;16B", "I;16N", "I")  # 16-bit grayscale PNGs open as one of these
GRAY_MODES = ("1", "L", "LA", "I", "I;16", "F")


def _headers(files: list[Path]) -> list[tuple[tuple[int, int], str]]:
    """``((width, height), mode)`` of each image, read from the headers (no decoding)."""
    out = []
    for path in files:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                with Image.open(path) as img:
                    out.append((img.size, img.mode))
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise DifflabError(
                f"folder: image {path} is too large to decode safely (over {Image.MAX_IMAGE_PIXELS} pixels); shrink it"
            ) from None
        except (OSError, UnidentifiedImageError, SyntaxError, ValueError) as err:
            raise DifflabError(f"folder: cannot read image {path} ({type(err).__name__}); fix or remove it") from None
    return out


def folder_layout(files: list[Path], size: int | None, channels: int | None) -> tuple[int, int, str]:
    """The output ``(size, channels)`` (inferred where ``None``) and a one-line account of what happens.

    ``size`` defaults to the most common shorter side among the images, ``channels`` to 1 when every
    image is grayscale (modes ``1``, ``L``, ``LA``, ``I``, ``F``), else 3.
    """
    heads = _headers(files)
    sides = Counter(min(wh) for wh, _ in heads)
    dims = Counter(f"{w}x{h}" for (w, h), _ in heads)
    gray = sum(mode in GRAY_MODES for _, mode in heads)
    inferred = []
    if size is None:
        size = sides.most_common(1)[0][0]
        inferred.append(f"size={size}")
    if channels is None:
        channels = 1 if gray == len(heads) else 3
        inferred.append(f"channels={channels}")
    changes = []
    if len(dims) > 1 or next(iter(sides)) != size:
        listed = ", ".join(f"{k} ({v})" for k, v in dims.most_common(4)) + (", ..." if len(dims) > 4 else "")
        changes.append(f"resized (shorter side) and centre-cropped to {size}x{size} from {listed}")
    if channels == 1 and gray < len(heads):
        changes.append(f"{len(heads) - gray} colour image(s) converted to grayscale")
    if channels == 3 and gray:
        changes.append(f"{gray} grayscale image(s) repeated to RGB")
    text = f"folder: {len(heads)} images -> {channels}x{size}x{size}"
    if inferred:
        text += f" (inferred {', '.join(inferred)}; set data.options.size / data.options.channels to change)"
    if changes:
        text += "; " + "; ".join(changes)
    return size, channels, text


def read_image(path: Path, size: int, channels: Literal[1, 3]) -> np.ndarray:
    """Read, resize the shorter side to ``size``, centre-crop.

    16-bit grayscale images keep their full range (divided by 65535, never clipped at 255);
    an image over Pillow's decompression-bomb limit is refused before it is decoded.

    Returns:
        ``(channels, size, size)`` float64 in [0, 1].
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                if img.mode in SIXTEEN_BIT_MODES:
                    return _read_16bit(img, path, size, channels)
                img = img.convert("L" if channels == 1 else "RGB")
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise DifflabError(
            f"folder: image {path} is too large to decode safely (over {Image.MAX_IMAGE_PIXELS} pixels); shrink it"
        ) from None
    except MemoryError:
        raise DifflabError(f"folder: image {path} does not fit in memory; shrink it") from None
    except (OSError, UnidentifiedImageError, SyntaxError, ValueError) as err:
        raise DifflabError(f"folder: cannot read image {path} ({type(err).__name__}); fix or remove it") from None
    img = _resize_crop(img, size)
    arr = np.asarray(img, dtype=np.float64) / 255.0
    return arr[None] if channels == 1 else arr.transpose(2, 0, 1)


def _resize_crop(img: Image.Image, size: int) -> Image.Image:
    w, h = img.size
    ratio = size / min(w, h)
    new_w, new_h = max(size, round(w * ratio)), max(size, round(h * ratio))
    img = img.resize((new_w, new_h), Image.Resampling.BICUBIC)
    left, top = (new_w - size) // 2, (new_h - size) // 2
    return img.crop((left, top, left + size, top + size))


def _read_16bit(img: Image.Image, path: Path, size: int, channels: Literal[1, 3]) -> np.ndarray:
    """A 16-bit grayscale image scaled by its bit depth (65535), resized in float."""
    raw = np.asarray(img).astype(np.float64)
    if raw.min() < 0 or raw.max() > 65535:
        raise DifflabError(f"folder: image {path} is 32-bit integer ({img.mode}); save it as 8- or 16-bit")
    unit = Image.fromarray((raw / 65535.0).astype(np.float32), mode="F")
    arr = np.clip(np.asarray(_resize_crop(unit, size), dtype=np.float64), 0.0, 1.0)
    return np.repeat(arr[None], channels, axis=0)


class FolderReader:
    """Image ``j`` of a file list as ``(channels, size, size)`` float64 in [0, 1] (picklable, for loader workers)."""

    def __init__(self, files: list[Path], size: int, channels: Literal[1, 3]) -> None:
        self.files, self.size, self.channels = files, size, channels

    def __call__(self, j: int) -> np.ndarray:
        return read_image(self.files[j], self.size, self.channels)


def load_folder(
    *,
    path: str,
    size: int | None = None,
    channels: Literal[1, 3] | None = None,
    test_fraction: float = 0.1,
    seed: int = 0,
    stream: str = "never",
    stream_above_mb: float = float("inf"),
) -> Dataset:
    """All PNG/JPEG images under ``path`` (recursively), ``(channels, size, size)`` in [-1, 1].

    What was inferred or changed (resizing, colour conversion) is reported in one warning,
    e.g. ``folder: 200 images -> 1x16x16 (inferred size=16, channels=1; ...)``, and kept in
    ``meta["layout"]``.

    Args:
        path: Directory of images; sub-folders become class labels.
        size: Output side; the shorter side is resized to it, then centre-cropped. Default: the
            most common shorter side of the images.
        channels: 1 (grayscale) or 3 (RGB). Default: 1 if every image is grayscale, else 3.
        test_fraction: Share of images held out for test.
        seed: Seed of the train/test split.
        stream: ``never``, ``auto`` or ``always`` stream the training split (``data.stream``, not an option).
        stream_above_mb: The ``auto`` threshold in MiB (``data.stream_above_mb``).
    """
    if size is not None:
        size = check_int("folder", "size", size, minimum=2)
        if size > MAX_SIZE:
            raise DifflabError(f"folder: option size must be at most {MAX_SIZE}, got {size}")
    if channels is not None:
        check_choice("folder", "channels", channels, (1, 3))
    check_path("folder", "path", path)
    test_fraction = check_fraction("folder", "test_fraction", test_fraction)
    seed = check_int("folder", "seed", seed, minimum=0)
    root = Path(path).expanduser()
    if not root.is_dir():
        raise DifflabError(f"folder: {root} is not a directory")
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise DifflabError(f"folder: no PNG/JPEG images found in {root}")
    size, channels, layout = folder_layout(files, size, channels)
    if size < 2:
        raise DifflabError(f"folder: images must be at least 2 pixels on the shorter side, got {size}")
    if size > MAX_SIZE:
        raise DifflabError(f"folder: inferred size {size} is over {MAX_SIZE}; set data.options.size")
    if "inferred" in layout or ";" in layout:
        warnings.warn(layout, stacklevel=2)
    classes = sorted({p.parent.relative_to(root).as_posix() for p in files})
    labelled = len(classes) > 1 and "." not in classes
    y = np.array([classes.index(p.parent.relative_to(root).as_posix()) for p in files]) if labelled else None
    tr, te = split_indices("folder", len(files), test_fraction, seed)
    norm = unit_image_normaliser()
    read = FolderReader(files, size, channels)
    streamed = None
    if wants_stream(stream, len(tr), (channels, size, size), stream_above_mb):
        # decoded per batch by the training loader; only a fitting subset and the test split are read now
        streamed = StreamedExamples(read, tr, None if y is None else y[tr], norm)
        keep = fit_subset(len(tr), seed)
        train, train_labels = streamed.stack(keep), as_label_tensor(None if y is None else y[tr][keep])
        test = as_float_tensor(norm.encode(np.stack([read(j) for j in te])))
    else:
        x = np.stack([read(j) for j in range(len(files))])
        train, train_labels = as_float_tensor(norm.encode(x[tr])), as_label_tensor(None if y is None else y[tr])
        test = as_float_tensor(norm.encode(x[te]))
    return Dataset(
        name="folder",
        train=train,
        test=test,
        train_labels=train_labels,
        test_labels=as_label_tensor(None if y is None else y[te]),
        num_classes=len(classes) if labelled else 0,
        normaliser=norm,
        meta={"path": str(root), "class_names": classes if labelled else [], "layout": layout},
        train_stream=streamed,
    )
