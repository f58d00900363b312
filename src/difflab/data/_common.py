"""Small helpers shared by the loaders: option checks, seeded splits, conversions."""

from __future__ import annotations

import os
from collections.abc import Sequence
from numbers import Integral, Real

import numpy as np
import torch

from difflab.data.base import Normaliser
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
