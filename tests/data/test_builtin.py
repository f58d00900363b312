"""Built-in synthetic and bundled datasets: shapes, ranges, determinism, oracles."""

import socket

import numpy as np
import pytest
import torch

from difflab.data import load_dataset
from difflab.data.digits_split import digits_split
from difflab.data.patches import TEST_IMAGES, TRAIN_IMAGES, load_photo
from difflab.data.toy2d import sample_toy2d
from difflab.errors import DifflabError


def test_digits_exact_normalisation_and_split():
    ds = load_dataset("digits")
    x_tr, y_tr, x_te, y_te = digits_split()
    assert ds.shape == (1, 8, 8) and (len(ds.train), len(ds.test)) == (1437, 360)
    assert torch.equal(ds.train[:, 0], torch.from_numpy(x_tr / 8 - 1).float())
    assert torch.equal(ds.test_labels, torch.from_numpy(y_te))
    assert ds.num_classes == 10 and ds.train_labels.dtype == torch.int64
    assert ds.train.min() == -1 and ds.train.max() == 1
    np.testing.assert_array_equal(ds.normaliser.decode(ds.train[:, 0]).numpy(), x_tr)


def test_patches_shape_range_determinism():
    a = load_dataset("patches", size=8, n_train=300, n_test=50, seed=1)
    b = load_dataset("patches", size=8, n_train=300, n_test=50, seed=1)
    c = load_dataset("patches", size=8, n_train=300, n_test=50, seed=2)
    assert a.shape == (1, 8, 8) and a.is_image and (len(a.train), len(a.test)) == (300, 50)
    assert a.train.min() >= -1 and a.train.max() <= 1 and a.train.std() > 0.1
    assert torch.equal(a.train, b.train) and torch.equal(a.test, b.test)
    assert not torch.equal(a.train, c.train)


def test_patches_come_from_disjoint_photographs_bundled_offline(monkeypatch):
    assert not set(TRAIN_IMAGES) & set(TEST_IMAGES)

    def no_network(*args, **kwargs):
        raise AssertionError("tried to use the network")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    photos = {name: load_photo(name) for name in TRAIN_IMAGES + TEST_IMAGES}
    for img in photos.values():
        assert img.ndim == 2 and img.min() >= 0 and img.max() <= 1 and min(img.shape) >= 256
    # no two photographs are the same picture (skimage's cat == chelsea)
    names = list(photos)
    for i, p in enumerate(names):
        for q in names[i + 1 :]:
            if photos[p].shape == photos[q].shape:
                assert not np.allclose(photos[p], photos[q]), (p, q)


def test_patches_too_large():
    with pytest.raises(DifflabError, match="size=400"):
        load_dataset("patches", size=400, n_train=2, n_test=2)


@pytest.mark.parametrize("which", ["8gaussians", "moons", "swissroll", "checkerboard"])
def test_toy2d_standardised_and_deterministic(which):
    a = load_dataset("toy2d", which=which, n_train=2000, n_test=100, seed=3)
    b = load_dataset("toy2d", which=which, n_train=2000, n_test=100, seed=3)
    assert a.shape == (2,) and (len(a.train), len(a.test)) == (2000, 100)
    torch.testing.assert_close(a.train.mean(0), torch.zeros(2), atol=1e-5, rtol=0)
    torch.testing.assert_close(a.train.std(0, unbiased=False), torch.ones(2), atol=1e-4, rtol=0)
    assert torch.equal(a.train, b.train) and torch.equal(a.test, b.test)
    assert not torch.equal(a.train, load_dataset("toy2d", which=which, n_train=2000, n_test=100, seed=4).train)


def test_toy2d_shapes_of_the_distributions():
    rng = np.random.default_rng(0)
    x, _ = sample_toy2d("checkerboard", 5000, rng)
    # filled squares: floor(x/2) of both coordinates has an even sum
    assert np.all((np.floor(x[:, 0] / 2) + np.floor(x[:, 1] / 2)) % 2 == 0)
    assert np.all(np.abs(x) <= 4)
    x, y = sample_toy2d("8gaussians", 4000, rng)
    assert set(np.unique(y)) == set(range(8))
    angle = y * np.pi / 4
    centres = 2 * np.stack([np.cos(angle), np.sin(angle)], 1)
    assert np.abs(x - centres).std() < 0.25


def test_toy2d_bad_which():
    with pytest.raises(DifflabError, match="which='spiral'.*8gaussians, moons, swissroll, checkerboard"):
        load_dataset("toy2d", which="spiral")
    with pytest.raises(DifflabError, match="n_test"):
        load_dataset("toy2d", n_test=0)


def test_gmm_meta_matches_empirical_moments():
    ds = load_dataset("gmm", dim=3, n_components=3, n_train=40000, n_test=10, seed=5)
    w, mu, cov = ds.meta["weights"], ds.meta["means"], ds.meta["covs"]
    assert w.shape == (3,) and mu.shape == (3, 3) and cov.shape == (3, 3, 3)
    assert torch.isclose(w.sum(), torch.tensor(1.0, dtype=torch.float64))
    assert torch.all(torch.linalg.eigvalsh(cov) > 0)
    x = ds.train.double()
    counts = torch.bincount(ds.train_labels, minlength=3).double() / len(x)
    torch.testing.assert_close(counts, w, atol=0.015, rtol=0)
    mean = w @ mu
    second = torch.einsum("k,kij->ij", w, cov + mu[:, :, None] * mu[:, None, :])
    torch.testing.assert_close(x.mean(0), mean, atol=0.03, rtol=0)
    torch.testing.assert_close(torch.cov(x.T, correction=0), second - torch.outer(mean, mean), atol=0.05, rtol=0)
    # per-mode moments too
    for k in range(3):
        xk = x[ds.train_labels == k]
        torch.testing.assert_close(xk.mean(0), mu[k], atol=0.04, rtol=0)
        torch.testing.assert_close(torch.cov(xk.T), cov[k], atol=0.04, rtol=0)


def test_gmm_deterministic_and_identity_normaliser():
    a = load_dataset("gmm", dim=5, n_components=2, n_train=50, n_test=20, seed=9)
    b = load_dataset("gmm", dim=5, n_components=2, n_train=50, n_test=20, seed=9)
    assert a.shape == (5,) and a.num_classes == 2
    assert torch.equal(a.train, b.train) and torch.equal(a.meta["means"], b.meta["means"])
    assert torch.equal(a.normaliser.encode(a.train), a.train)
    assert not torch.equal(
        a.meta["means"], load_dataset("gmm", dim=5, n_components=2, seed=10, n_train=5, n_test=5).meta["means"]
    )
