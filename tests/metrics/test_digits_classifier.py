import json
from importlib import resources

import numpy as np
import pytest
import torch

from difflab.data.digits_split import digits_split
from difflab.metrics import classifier_fd, load_digits_classifier, normalise_digits


@pytest.fixture(scope="module")
def digits():
    x_tr, y_tr, x_te, y_te = digits_split()
    return normalise_digits(x_tr), y_tr, normalise_digits(x_te), y_te


def test_shipped_classifier_test_accuracy(digits):
    _, _, x_te, y_te = digits
    model = load_digits_classifier()
    pred = model.predict(x_te)
    assert pred.dtype == torch.int64 and pred.shape == (360,)
    acc = float((pred.numpy() == y_te).mean())
    assert acc >= 0.97
    meta = json.loads(resources.files("difflab").joinpath("assets", "digits_classifier.json").read_text())
    assert acc == pytest.approx(meta["test_accuracy"], abs=1e-9)


def test_loader_is_cached_and_features_shape(digits):
    x_tr = digits[0]
    model = load_digits_classifier()
    assert load_digits_classifier() is model
    f = model.features(torch.from_numpy(x_tr[:7]))
    assert f.shape == (7, 128)
    assert torch.allclose(model.features(x_tr[:7, 0]), f)  # (N, 8, 8) accepted too


def test_classifier_fd_train_test_small_noise_large(digits):
    x_tr, _, x_te, _ = digits
    noise = np.random.default_rng(0).uniform(-1, 1, size=x_te.shape).astype(np.float32)
    fd_tt = classifier_fd(x_tr, x_te)
    fd_noise = classifier_fd(x_tr, noise)
    assert fd_tt > 0
    assert fd_noise > 20 * fd_tt
    assert classifier_fd(x_te, x_te) < 1e-6 * fd_noise
