"""The ``npy`` dataset: layouts, normalisation, labels and every bad-input error."""

import numpy as np
import pytest
import torch

from difflab.data import load_dataset
from difflab.errors import DifflabError


def test_vectors_standardised_per_feature(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal([10.0, -5.0, 0.0], [1.0, 100.0, 0.01], size=(200, 3))
    np.save(tmp_path / "x.npy", x)
    ds = load_dataset("npy", path=str(tmp_path / "x.npy"), test_fraction=0.25, seed=1)
    assert ds.shape == (3,) and (len(ds.train), len(ds.test)) == (150, 50)
    torch.testing.assert_close(ds.train.mean(0), torch.zeros(3), atol=1e-5, rtol=0)
    torch.testing.assert_close(ds.train.std(0, unbiased=False), torch.ones(3), atol=1e-4, rtol=0)
    back = ds.normaliser.decode(torch.cat([ds.train, ds.test]).double()).numpy()
    np.testing.assert_allclose(np.sort(back, 0), np.sort(x, 0), rtol=1e-5, atol=1e-5)
    again = load_dataset("npy", path=str(tmp_path / "x.npy"), test_fraction=0.25, seed=1)
    assert torch.equal(ds.test, again.test)
    assert ds.train_labels is None and ds.num_classes == 0


@pytest.mark.parametrize(
    ("shape", "expected"),
    [((6, 5, 7), (1, 5, 7)), ((6, 3, 5, 7), (3, 5, 7)), ((6, 5, 7, 3), (3, 5, 7))],
)
def test_images_map_min_max_to_unit_interval(tmp_path, shape, expected):
    x = np.random.default_rng(0).integers(3, 200, size=shape).astype(np.uint8)
    np.save(tmp_path / "img.npy", x)
    ds = load_dataset("npy", path=str(tmp_path / "img.npy"), test_fraction=0.5)
    assert ds.shape == expected and ds.is_image
    both = torch.cat([ds.train, ds.test])
    assert both.min() == -1 and both.max() == 1
    assert ds.normaliser.value_range == (float(x.min()), float(x.max()))


def test_npz_with_labels_key_and_separate_label_file(tmp_path):
    x = np.random.default_rng(0).normal(size=(20, 4))
    y = np.arange(20) % 3
    np.savez(tmp_path / "d.npz", data=x, labels=y)
    ds = load_dataset("npy", path=str(tmp_path / "d.npz"))
    assert ds.num_classes == 3 and len(ds.train_labels) + len(ds.test_labels) == 20
    np.savez(tmp_path / "e.npz", x=x, target=y)
    assert load_dataset("npy", path=str(tmp_path / "e.npz"), labels="target").num_classes == 3
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", y + 1)
    ds = load_dataset("npy", path=str(tmp_path / "x.npy"), labels=str(tmp_path / "y.npy"))
    assert ds.num_classes == 4
    # labels follow their examples through the split
    x_all = ds.normaliser.decode(ds.train.double()).numpy()
    rows = [int(np.argmin(np.abs(x - r).sum(1))) for r in x_all]
    assert np.array_equal(y[rows] + 1, ds.train_labels.numpy())


def _write(tmp_path, array, name="bad.npy"):
    np.save(tmp_path / name, array)
    return str(tmp_path / name)


def test_errors(tmp_path):
    with pytest.raises(DifflabError, match="not found"):
        load_dataset("npy", path=str(tmp_path / "nope.npy"))
    (tmp_path / "junk.npy").write_bytes(b"this is not numpy")
    with pytest.raises(DifflabError, match="cannot read data file"):
        load_dataset("npy", path=str(tmp_path / "junk.npy"))
    (tmp_path / "junk.npz").write_bytes(b"PK\x03\x04 truncated zip")
    with pytest.raises(DifflabError, match="cannot read"):
        load_dataset("npy", path=str(tmp_path / "junk.npz"))
    with pytest.raises(DifflabError, match="cannot read"):  # pickled objects are refused
        load_dataset("npy", path=_write(tmp_path, np.array([{"a": 1}, None], dtype=object)))
    x = np.ones((10, 3))
    x[0, 0], x[1, 1], x[2, 2] = np.nan, np.inf, -np.inf
    with pytest.raises(DifflabError, match=r"3 non-finite values \(1 NaN, 2 Inf\)"):
        load_dataset("npy", path=_write(tmp_path, x))
    with pytest.raises(DifflabError, match=r"shape \(10,\)"):
        load_dataset("npy", path=_write(tmp_path, np.ones(10)))
    with pytest.raises(DifflabError, match=r"C <= 4"):
        load_dataset("npy", path=_write(tmp_path, np.ones((2, 8, 8, 8, 8))))
    with pytest.raises(DifflabError, match=r"C <= 4"):
        load_dataset("npy", path=_write(tmp_path, np.ones((2, 8, 9, 9))))
    with pytest.raises(DifflabError, match="empty"):
        load_dataset("npy", path=_write(tmp_path, np.ones((0, 3))))
    with pytest.raises(DifflabError, match="at least 2 examples"):
        load_dataset("npy", path=_write(tmp_path, np.ones((1, 3))))


def test_label_errors(tmp_path):
    x = _write(tmp_path, np.random.default_rng(0).normal(size=(10, 2)), "x.npy")
    with pytest.raises(DifflabError, match="label count mismatch: 10 examples"):
        load_dataset("npy", path=x, labels=_write(tmp_path, np.arange(9), "y.npy"))
    with pytest.raises(DifflabError, match="integers"):
        load_dataset("npy", path=x, labels=_write(tmp_path, np.linspace(0, 1, 10), "y.npy"))
    with pytest.raises(DifflabError, match="labels file not found"):
        load_dataset("npy", path=x, labels=str(tmp_path / "missing.npy"))
    np.savez(tmp_path / "d.npz", x=np.ones((10, 2)), y=np.arange(5))
    with pytest.raises(DifflabError, match="label count mismatch"):
        load_dataset("npy", path=str(tmp_path / "d.npz"))
    with pytest.raises(DifflabError, match="neither a key"):
        load_dataset("npy", path=str(tmp_path / "d.npz"), labels="klass")


def test_bad_options(tmp_path):
    x = _write(tmp_path, np.ones((10, 2)), "x.npy")
    with pytest.raises(DifflabError, match="test_fraction"):
        load_dataset("npy", path=x, test_fraction=1.5)
