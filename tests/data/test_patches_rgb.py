"""patches-rgb: 32x32x3 colour patches from bundled photographs, disjoint train/test pictures, offline."""

import socket

import numpy as np
import pytest
import torch

from difflab.data import load_dataset
from difflab.data.patches import COLOUR_TEST_IMAGES, COLOUR_TRAIN_IMAGES, cut_patches, load_photo
from difflab.errors import DifflabError


def test_shape_range_determinism_and_seed():
    a = load_dataset("patches-rgb", n_train=200, n_test=40, seed=1)
    b = load_dataset("patches-rgb", n_train=200, n_test=40, seed=1)
    c = load_dataset("patches-rgb", n_train=200, n_test=40, seed=2)
    assert a.name == "patches-rgb" and a.shape == (3, 32, 32) and a.is_image
    assert (len(a.train), len(a.test)) == (200, 40) and a.train.dtype == torch.float32
    assert a.train.min() >= -1 and a.train.max() <= 1
    assert torch.equal(a.train, b.train) and torch.equal(a.test, b.test)
    assert not torch.equal(a.train, c.train)
    # colour, not grey copied three times: the channels differ
    assert (a.train[:, 0] - a.train[:, 1]).abs().mean() > 0.02
    assert load_dataset("patches-rgb", size=16, n_train=5, n_test=5).shape == (3, 16, 16)


def test_photographs_disjoint_distinct_colour_and_offline(monkeypatch):
    assert not set(COLOUR_TRAIN_IMAGES) & set(COLOUR_TEST_IMAGES)

    def no_network(*args, **kwargs):
        raise AssertionError("tried to use the network")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    photos = {name: load_photo(name, colour=True) for name in COLOUR_TRAIN_IMAGES + COLOUR_TEST_IMAGES}
    for img in photos.values():
        assert img.shape[0] == 3 and img.min() >= 0 and img.max() <= 1 and min(img.shape[1:]) >= 300
    # no two are the same picture (a shared crop would leak test content into training)
    small = {n: img[:, :32, :32] for n, img in photos.items()}
    names = list(small)
    for i, p in enumerate(names):
        for q in names[i + 1 :]:
            assert photos[p].shape != photos[q].shape or not np.allclose(photos[p], photos[q]), (p, q)
            assert not np.allclose(small[p], small[q]), (p, q)


def test_every_patch_is_an_exact_crop_of_one_photograph_of_its_split():
    imgs = [load_photo(n, colour=True) for n in COLOUR_TEST_IMAGES]
    patches = cut_patches(imgs, 12, 8, np.random.default_rng(0))
    assert patches.shape == (12, 3, 8, 8)
    for p in patches:
        found = False
        for img in imgs:
            # the top-left pixel's matches, then the whole crop
            rows, cols = np.nonzero(np.all(img == p[:, :1, :1], axis=0))
            found |= any(np.array_equal(img[:, r : r + 8, c : c + 8], p) for r, c in zip(rows, cols))
        assert found


def test_too_large_and_bad_options():
    with pytest.raises(DifflabError, match="patches-rgb: size=400"):
        load_dataset("patches-rgb", size=400, n_train=2, n_test=2)
    with pytest.raises(DifflabError, match="patches-rgb: option n_train"):
        load_dataset("patches-rgb", n_train=0)
