"""Natural-image patches cut from photographs bundled with scikit-image (and scikit-learn).

``patches``: grayscale; ``patches-rgb``: colour, 32x32x3 by default (the CIFAR-10 shape, offline).
Train and test patches come from disjoint photographs, so test likelihoods and
sample quality measure generalisation to new images, not to new crops.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import skimage.color
import skimage.data
from PIL import Image

from difflab.data._common import as_float_tensor, check_int, unit_image_normaliser
from difflab.data.base import Dataset
from difflab.errors import DifflabError

# Only images shipped inside the scikit-image wheel (no pooch download needed).
# ``cat`` is the same photograph as ``chelsea`` and is therefore never used.
TRAIN_IMAGES: tuple[str, ...] = ("astronaut", "camera", "coffee", "rocket", "brick", "grass", "moon")
TEST_IMAGES: tuple[str, ...] = ("chelsea", "gravel", "coins")

# The colour photographs of the two wheels (synthetic images such as ``colorwheel`` and ``logo``
# left out). ``sklearn:`` names are the JPEGs behind :func:`sklearn.datasets.load_sample_image`;
# ``stereo_motorcycle`` is the left view of scikit-image's stereo pair (the right view is unused).
COLOUR_TRAIN_IMAGES: tuple[str, ...] = (
    "astronaut",
    "coffee",
    "rocket",
    "hubble_deep_field",
    "immunohistochemistry",
    "retina",
    "sklearn:china",
)
COLOUR_TEST_IMAGES: tuple[str, ...] = ("chelsea", "sklearn:flower", "stereo_motorcycle")


def _rgb_uint8(name: str) -> np.ndarray:
    """A bundled photograph as stored, ``(H, W)`` or ``(H, W, 3|4)`` uint8."""
    if name.startswith("sklearn:"):
        # Read the JPEG from the installed wheel: importing sklearn.datasets costs seconds.
        spec = importlib.util.find_spec("sklearn")
        path = Path(next(iter(spec.submodule_search_locations))) / "datasets" / "images" / f"{name[8:]}.jpg"
        with Image.open(path) as im:
            return np.asarray(im.convert("RGB"))
    if name == "stereo_motorcycle":
        return skimage.data.stereo_motorcycle()[0]
    return getattr(skimage.data, name)()


def load_photo(name: str, colour: bool = False) -> np.ndarray:
    """One bundled photograph in [0, 1]: grayscale float64 ``(H, W)``, or with ``colour`` ``(3, H, W)``."""
    img = _rgb_uint8(name)
    if colour:
        if img.ndim != 3:
            raise DifflabError(f"patches-rgb: photograph {name!r} is not a colour image")
        return np.moveaxis(img[..., :3], -1, 0).astype(np.float64) / 255.0
    if img.ndim == 3:
        return skimage.color.rgb2gray(img[..., :3])
    return img.astype(np.float64) / 255.0


def cut_patches(images: list[np.ndarray], n: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` random ``size x size`` patches, each from a uniformly chosen image.

    Args:
        images: grayscale ``(H, W)`` or channel-first ``(C, H, W)`` arrays, all with the same C.
        n: number of patches.
        size: patch side.
        rng: generator for the image choice and positions.

    Returns:
        ``(n, C, size, size)`` float64 in [0, 1] (C = 1 for grayscale).
    """
    images = [img[None] if img.ndim == 2 else img for img in images]
    out = np.empty((n, images[0].shape[0], size, size))
    which = rng.integers(len(images), size=n)
    offsets = np.arange(size)
    for k, img in enumerate(images):
        idx = np.flatnonzero(which == k)
        rows = rng.integers(img.shape[1] - size + 1, size=len(idx))
        cols = rng.integers(img.shape[2] - size + 1, size=len(idx))
        crops = img[:, (rows[:, None] + offsets)[:, :, None], (cols[:, None] + offsets)[:, None, :]]
        out[idx] = np.moveaxis(crops, 0, 1)  # (C, n_k, size, size) -> (n_k, C, size, size)
    return out


def _patch_dataset(
    name: str, train_names: tuple[str, ...], test_names: tuple[str, ...], colour: bool, size, n_train, n_test, seed
) -> Dataset:
    size = check_int(name, "size", size, minimum=2)
    n_train = check_int(name, "n_train", n_train)
    n_test = check_int(name, "n_test", n_test)
    seed = check_int(name, "seed", seed, minimum=0)
    train_imgs = [load_photo(n, colour) for n in train_names]
    test_imgs = [load_photo(n, colour) for n in test_names]
    smallest = min(min(im.shape[-2:]) for im in train_imgs + test_imgs)
    if size > smallest:
        raise DifflabError(f"{name}: size={size} is larger than the smallest photograph side {smallest}")
    train_rng, test_rng = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(2))
    norm = unit_image_normaliser()
    return Dataset(
        name=name,
        train=as_float_tensor(norm.encode(cut_patches(train_imgs, n_train, size, train_rng))),
        test=as_float_tensor(norm.encode(cut_patches(test_imgs, n_test, size, test_rng))),
        normaliser=norm,
        meta={"train_images": list(train_names), "test_images": list(test_names)},
    )


def load_patches(*, size: int = 16, n_train: int = 20000, n_test: int = 2000, seed: int = 0) -> Dataset:
    """Natural-image patches ``(1, size, size)`` in [-1, 1].

    Args:
        size: Patch side in pixels (at most the smallest photo side, 300).
        n_train: Number of training patches (from :data:`TRAIN_IMAGES`).
        n_test: Number of test patches (from :data:`TEST_IMAGES`).
        seed: Seed for patch positions.
    """
    return _patch_dataset("patches", TRAIN_IMAGES, TEST_IMAGES, False, size, n_train, n_test, seed)


def load_patches_rgb(*, size: int = 32, n_train: int = 10000, n_test: int = 1000, seed: int = 0) -> Dataset:
    """Colour natural-image patches ``(3, size, size)`` in [-1, 1]: the CIFAR-10 shape, offline.

    Args:
        size: Patch side in pixels (at most the smallest photo side, 300).
        n_train: Number of training patches (from :data:`COLOUR_TRAIN_IMAGES`, seven photographs).
        n_test: Number of test patches (from :data:`COLOUR_TEST_IMAGES`, three other photographs).
        seed: Seed for patch positions.
    """
    return _patch_dataset("patches-rgb", COLOUR_TRAIN_IMAGES, COLOUR_TEST_IMAGES, True, size, n_train, n_test, seed)
