"""Grayscale natural-image patches cut from photographs bundled with scikit-image.

Train and test patches come from disjoint photographs, so test likelihoods and
sample quality measure generalisation to new images, not to new crops.
"""

from __future__ import annotations

import numpy as np
import skimage.color
import skimage.data

from difflab.data._common import as_float_tensor, check_int, unit_image_normaliser
from difflab.data.base import Dataset
from difflab.errors import DifflabError

# Only images shipped inside the scikit-image wheel (no pooch download needed).
# ``cat`` is the same photograph as ``chelsea`` and is therefore never used.
TRAIN_IMAGES: tuple[str, ...] = ("astronaut", "camera", "coffee", "rocket", "brick", "grass", "moon")
TEST_IMAGES: tuple[str, ...] = ("chelsea", "gravel", "coins")


def load_photo(name: str) -> np.ndarray:
    """One bundled photograph as grayscale float64 ``(H, W)`` in [0, 1]."""
    img = getattr(skimage.data, name)()
    if img.ndim == 3:
        return skimage.color.rgb2gray(img[..., :3])
    return img.astype(np.float64) / 255.0


def cut_patches(images: list[np.ndarray], n: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` random ``size x size`` patches, each from a uniformly chosen image.

    Returns:
        ``(n, 1, size, size)`` float64 in [0, 1].
    """
    out = np.empty((n, 1, size, size))
    which = rng.integers(len(images), size=n)
    offsets = np.arange(size)
    for k, img in enumerate(images):
        idx = np.flatnonzero(which == k)
        rows = rng.integers(img.shape[0] - size + 1, size=len(idx))
        cols = rng.integers(img.shape[1] - size + 1, size=len(idx))
        out[idx, 0] = img[(rows[:, None] + offsets)[:, :, None], (cols[:, None] + offsets)[:, None, :]]
    return out


def load_patches(*, size: int = 16, n_train: int = 20000, n_test: int = 2000, seed: int = 0) -> Dataset:
    """Natural-image patches ``(1, size, size)`` in [-1, 1].

    Args:
        size: Patch side in pixels (at most the smallest photo side, 300).
        n_train: Number of training patches (from :data:`TRAIN_IMAGES`).
        n_test: Number of test patches (from :data:`TEST_IMAGES`).
        seed: Seed for patch positions.
    """
    size = check_int("patches", "size", size, minimum=2)
    n_train = check_int("patches", "n_train", n_train)
    n_test = check_int("patches", "n_test", n_test)
    seed = check_int("patches", "seed", seed, minimum=0)
    train_imgs = [load_photo(n) for n in TRAIN_IMAGES]
    test_imgs = [load_photo(n) for n in TEST_IMAGES]
    smallest = min(min(im.shape) for im in train_imgs + test_imgs)
    if size > smallest:
        raise DifflabError(f"patches: size={size} is larger than the smallest photograph side {smallest}")
    train_rng, test_rng = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(2))
    norm = unit_image_normaliser()
    return Dataset(
        name="patches",
        train=as_float_tensor(norm.encode(cut_patches(train_imgs, n_train, size, train_rng))),
        test=as_float_tensor(norm.encode(cut_patches(test_imgs, n_test, size, test_rng))),
        normaliser=norm,
        meta={"train_images": list(TRAIN_IMAGES), "test_images": list(TEST_IMAGES)},
    )
