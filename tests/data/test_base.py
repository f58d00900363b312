"""Normaliser round trips and serialisation; Dataset invariants."""

import json

import numpy as np
import pytest
import torch
import yaml

from difflab.data import Dataset, Normaliser
from difflab.errors import DifflabError


@pytest.mark.parametrize(
    "norm",
    [
        Normaliser(),
        Normaliser(shift=8.0, scale=8.0, value_range=(0.0, 16.0)),
        Normaliser(shift=np.array([1.0, -2.0, 3.0]), scale=np.array([0.5, 2.0, 4.0])),
    ],
)
def test_round_trip_torch_and_numpy(norm):
    rng = np.random.default_rng(0)
    x = rng.uniform(0.0, 16.0, size=(5, 3))
    for data in (x, torch.from_numpy(x)):
        back = norm.decode(norm.encode(data))
        assert type(back) is type(data)
        np.testing.assert_allclose(np.asarray(back), x, rtol=0, atol=1e-12)


def test_encode_formula_and_dtype():
    norm = Normaliser(shift=np.array([1.0, 2.0]), scale=np.array([2.0, 4.0]))
    x = np.array([[3.0, 6.0], [1.0, 2.0]], dtype=np.float32)
    out = norm.encode(x)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, [[1.0, 1.0], [0.0, 0.0]])
    t = norm.encode(torch.tensor(x))
    assert t.dtype == torch.float32
    assert torch.equal(t, torch.tensor([[1.0, 1.0], [0.0, 0.0]]))
    # integer input is promoted to float32
    assert norm.encode(torch.tensor([[3, 6]])).dtype == torch.float32


def test_decode_clamps_to_value_range_only_when_asked():
    norm = Normaliser(shift=0.5, scale=0.5, value_range=(0.0, 1.0))
    x = torch.tensor([-3.0, 0.0, 3.0])
    assert torch.equal(norm.decode(x), torch.tensor([0.0, 0.5, 1.0]))
    assert torch.equal(norm.decode(x, clamp=False), torch.tensor([-1.0, 0.5, 2.0]))


@pytest.mark.parametrize(
    "norm",
    [
        Normaliser(shift=0.5, scale=0.5, value_range=(0.0, 1.0)),
        Normaliser(shift=np.arange(4.0).reshape(1, 2, 2), scale=np.full((1, 2, 2), 3.0)),
    ],
)
def test_to_dict_round_trip_through_json_and_yaml(norm):
    d = norm.to_dict()
    for text in (json.dumps(d), yaml.safe_dump(d)):
        restored = Normaliser.from_dict(yaml.safe_load(text))
        np.testing.assert_array_equal(restored.shift, norm.shift)
        np.testing.assert_array_equal(restored.scale, norm.scale)
        assert restored.value_range == norm.value_range
        x = torch.randn(2, *np.shape(norm.shift))
        assert torch.equal(restored.encode(x), norm.encode(x))


def test_bad_normaliser_inputs():
    with pytest.raises(DifflabError, match="scale"):
        Normaliser(scale=np.array([1.0, 0.0]))
    with pytest.raises(DifflabError, match="value_range"):
        Normaliser(value_range=(1.0, 1.0))
    with pytest.raises(DifflabError, match="offset"):
        Normaliser.from_dict({"shift": 0.0, "offset": 1.0})


def test_dataset_properties_and_invariants():
    ds = Dataset("x", torch.zeros(4, 1, 2, 2), torch.zeros(2, 1, 2, 2))
    assert ds.shape == (1, 2, 2) and ds.is_image and ds.num_classes == 0
    assert "n_train=4" in repr(ds)
    vec = Dataset("v", torch.zeros(3, 5), torch.zeros(1, 5))
    assert vec.shape == (5,) and not vec.is_image
    with pytest.raises(ValueError):
        Dataset("x", torch.zeros(4, 3), torch.zeros(2, 2))
    with pytest.raises(ValueError):
        Dataset(
            "x",
            torch.zeros(4, 3),
            torch.zeros(2, 3),
            torch.zeros(3, dtype=torch.int64),
            torch.zeros(2, dtype=torch.int64),
        )


def test_normaliser_equality():
    a = Normaliser(shift=np.array([1.0, 2.0]), scale=2.0)
    assert a == Normaliser.from_dict(a.to_dict())
    assert a != Normaliser(shift=np.array([1.0, 3.0]), scale=2.0)
    assert a != Normaliser(shift=np.array([1.0, 2.0]), scale=2.0, value_range=(0, 1))
