"""MNIST and Fashion-MNIST from the official IDX files (optionally gzipped).

IDX format (LeCun et al.): two zero bytes, a type code, the number of
dimensions, the dimensions as big-endian uint32, then the values row-major.
"""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np

from difflab.data._common import gray_digits_dataset
from difflab.data.base import Dataset
from difflab.data.download import IDX_FILES, default_data_dir, missing_files_error
from difflab.errors import DifflabError

_IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: Path) -> np.ndarray:
    """Parse one IDX file (``.gz`` is decompressed).

    Returns:
        The array with the dimensions stored in the header, native byte order.
    """
    try:
        raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    except (OSError, EOFError) as err:
        raise DifflabError(f"cannot read IDX file {path} ({err}); delete it and download again") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_TYPES:
        raise DifflabError(f"{path} is not an IDX file (bad magic number); delete it and download again")
    ndim = raw[3]
    header = 4 + 4 * ndim
    dims = struct.unpack(f">{ndim}I", raw[4:header]) if len(raw) >= header else None
    dtype = np.dtype(_IDX_TYPES[raw[2]])
    if dims is None or len(raw) - header != int(np.prod(dims)) * dtype.itemsize:
        raise DifflabError(f"IDX file {path} is truncated or has extra bytes; delete it and download again")
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(dims).astype(dtype.newbyteorder("="))


def _find(directory: Path, stem: str) -> Path | None:
    for candidate in (directory / stem, directory / f"{stem}.gz"):
        if candidate.is_file():
            return candidate
    return None


def load_idx_dataset(name: str, data_dir: str | Path | None) -> Dataset:
    """A 28x28 IDX dataset (MNIST layout) from ``data_dir``: images ``(1, 28, 28)`` in [-1, 1]."""
    directory = Path(data_dir).expanduser() if data_dir is not None else default_data_dir(name)
    paths = {stem: _find(directory, stem) for stem in IDX_FILES}
    missing = [f"{stem}[.gz]" for stem, p in paths.items() if p is None]
    if missing:
        raise missing_files_error(name, directory, missing)
    x_tr, y_tr, x_te, y_te = (read_idx(paths[stem]) for stem in IDX_FILES)
    for x, y, split in ((x_tr, y_tr, "train"), (x_te, y_te, "t10k")):
        if x.ndim != 3 or y.ndim != 1 or len(x) != len(y):
            raise DifflabError(f"{name}: {split} images {x.shape} and labels {y.shape} do not match in {directory}")
    return gray_digits_dataset(name, x_tr, y_tr, x_te, y_te, {"data_dir": str(directory)})


def load_mnist(*, data_dir: str | None = None) -> Dataset:
    """MNIST, 60000 train / 10000 test, ``(1, 28, 28)``; see :func:`difflab.data.download`.

    Args:
        data_dir: Folder holding the four IDX files (default :func:`default_data_dir`).
    """
    return load_idx_dataset("mnist", data_dir)


def load_fashion_mnist(*, data_dir: str | None = None) -> Dataset:
    """Fashion-MNIST, 60000 train / 10000 test, ``(1, 28, 28)``; see :func:`difflab.data.download`.

    Args:
        data_dir: Folder holding the four IDX files (default :func:`default_data_dir`).
    """
    return load_idx_dataset("fashion-mnist", data_dir)
