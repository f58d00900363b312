"""CIFAR-10 from the official *binary* version (never the pickled Python one).

Each record is 3073 bytes: one label byte, then 1024 red, 1024 green and 1024
blue values of a 32x32 image, row-major (Krizhevsky, 2009).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from difflab.data._common import as_float_tensor, as_label_tensor, unit_image_normaliser
from difflab.data.base import Dataset
from difflab.data.download import CIFAR_DIR, CIFAR_FILES, default_data_dir, missing_files_error
from difflab.errors import DifflabError

RECORD = 1 + 3 * 32 * 32


def read_cifar_bin(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Parse one CIFAR-10 binary batch.

    Returns:
        Images ``(N, 3, 32, 32)`` uint8 and labels ``(N,)`` int64.
    """
    raw = np.fromfile(path, dtype=np.uint8)
    if raw.size == 0 or raw.size % RECORD:
        raise DifflabError(
            f"{path} is not a CIFAR-10 binary batch ({raw.size} bytes, not a multiple of {RECORD}); "
            "delete it and download again"
        )
    records = raw.reshape(-1, RECORD)
    labels = records[:, 0].astype(np.int64)
    if labels.max() > 9:
        raise DifflabError(f"{path} has label {labels.max()} > 9; is it a CIFAR-100 file?")
    return records[:, 1:].reshape(-1, 3, 32, 32), labels


def load_cifar10(*, data_dir: str | None = None) -> Dataset:
    """CIFAR-10, 50000 train / 10000 test, ``(3, 32, 32)`` in [-1, 1]; see :func:`difflab.data.download`.

    Args:
        data_dir: Folder containing ``cifar-10-batches-bin/`` (or that folder
            itself); default :func:`default_data_dir`.
    """
    root = Path(data_dir).expanduser() if data_dir is not None else default_data_dir("cifar10")
    directory = root if not (root / CIFAR_DIR).is_dir() and root.name == CIFAR_DIR else root / CIFAR_DIR
    missing = [f for f in CIFAR_FILES if not (directory / f).is_file()]
    if missing:
        shown = [f"{CIFAR_DIR}/{f}" for f in missing]
        raise missing_files_error("cifar10", directory.parent, shown)
    train = [read_cifar_bin(directory / f) for f in CIFAR_FILES[:-1]]
    x_te, y_te = read_cifar_bin(directory / CIFAR_FILES[-1])
    norm = unit_image_normaliser()
    return Dataset(
        name="cifar10",
        train=as_float_tensor(norm.encode(np.concatenate([x for x, _ in train]) / 255.0)),
        test=as_float_tensor(norm.encode(x_te / 255.0)),
        train_labels=as_label_tensor(np.concatenate([y for _, y in train])),
        test_labels=as_label_tensor(y_te),
        num_classes=10,
        normaliser=norm,
        meta={"data_dir": str(directory), "quantum": 1 / 255},
    )
