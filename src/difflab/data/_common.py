"""Small helpers shared by the loaders: option checks, seeded splits, conversions."""

from __future__ import annotations

import os
from collections.abc import Sequence
from numbers import Integral, Real

import numpy as np
import torch

from difflab.data.base import Dataset, Normaliser
from difflab.errors import DifflabError


def unit_image_normaliser() -> Normaliser:
    """Images in [0, 1] mapped to [-1, 1]."""
    return Normaliser(shift=0.5, scale=0.5, value_range=(0.0, 1.0))


def check_int(dataset: str, option: str, value: object, minimum: int = 1) -> int:
    """Return ``value`` as int, or raise naming the option."""
    if isinstance(value, bool) or not isinstance(value, Integral) or value < minimum:
        raise DifflabError(f"{dataset}: option {option} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def check_path(dataset: str, option: str, value: object) -> str:
    """Return ``value`` if it is a path string, else raise naming the option."""
    if not isinstance(value, (str, os.PathLike)) or not str(value):
        raise DifflabError(f"{dataset}: option {option} must be a path string, got {value!r:.40}")
    return str(value)


def check_choice(dataset: str, option: str, value: object, choices: Sequence) -> object:
    """Return ``value`` if it is one of ``choices``, else raise listing them."""
    if value not in choices:
        raise DifflabError(
            f"{dataset}: option {option}={value!r} is not valid; choose one of {', '.join(map(str, choices))}"
        )
    return value


def check_fraction(dataset: str, option: str, value: object) -> float:
    """Return ``value`` if it is a real number strictly between 0 and 1."""
    if isinstance(value, bool) or not isinstance(value, Real) or not 0.0 < value < 1.0:
        raise DifflabError(f"{dataset}: option {option} must be a number in (0, 1), got {value!r}")
    return float(value)


def split_indices(dataset: str, n: int, test_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Seeded random train/test split of ``range(n)``; both parts non-empty.

    Returns:
        ``(train_idx, test_idx)``, each sorted, int64.
    """
    if n < 2:
        raise DifflabError(f"{dataset}: need at least 2 examples to split into train and test, got {n}")
    n_test = min(max(1, round(n * test_fraction)), n - 1)
    perm = np.random.default_rng(seed).permutation(n)
    return np.sort(perm[n_test:]), np.sort(perm[:n_test])


def as_float_tensor(x: np.ndarray) -> torch.Tensor:
    """Contiguous float32 torch tensor (copied, so it never aliases a memmap or buffer)."""
    return torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32).copy())


def as_label_tensor(y: np.ndarray | None) -> torch.Tensor | None:
    """``(N,)`` int64 tensor or None."""
    return None if y is None else torch.from_numpy(np.asarray(y, dtype=np.int64).copy())


def gray_digits_dataset(
    name: str, x_tr: np.ndarray, y_tr: np.ndarray, x_te: np.ndarray, y_te: np.ndarray, meta: dict
) -> Dataset:
    """A 10-class dataset of 8-bit grey images ``(N, H, W)`` (MNIST-like): one channel in [-1, 1], grid step 1/255."""
    norm = unit_image_normaliser()
    return Dataset(
        name=name,
        train=as_float_tensor(norm.encode(x_tr[:, None] / 255.0)),
        test=as_float_tensor(norm.encode(x_te[:, None] / 255.0)),
        train_labels=as_label_tensor(y_tr),
        test_labels=as_label_tensor(y_te),
        num_classes=10,
        normaliser=norm,
        meta={**meta, "quantum": 1 / 255},
    )
