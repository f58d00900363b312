"""Inception FID/KID plumbing without Inception weights: the error paths, the uint8 conversion,
the reference-feature cache (with a tiny stand-in extractor), KID against a brute-force oracle, and the
CLI/pipeline wiring."""

import sys
import types

import numpy as np
import pytest
import torch

from difflab.errors import DifflabError
from difflab.metrics import fid as fidmod
from difflab.metrics.fid import (
    FeatureExtractor,
    fid_kid,
    find_inception_weights,
    inception_extractor,
    reference_features,
    to_uint8_rgb,
)
from difflab.metrics.frechet import frechet_distance, gaussian_moments
from difflab.metrics.kernels import kid


@pytest.fixture
def no_weights(monkeypatch, tmp_path):
    """No env var, an empty torch hub folder: nowhere to find the weights."""
    monkeypatch.delenv(fidmod.WEIGHTS_ENV, raising=False)
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    return tmp_path


class Unsafe:
    """Anything the restricted unpickler refuses."""


@pytest.fixture
def fake_fidelity(monkeypatch):
    """A stand-in torch_fidelity.feature_extractor_inceptionv3 module (the real one needs torchvision)."""
    created = []

    class FakeInception(torch.nn.Module):
        def __init__(self, name, features_list, feature_extractor_weights_path=None):
            super().__init__()
            self.state = torch.load(feature_extractor_weights_path, weights_only=True)
            created.append(self)

        def forward(self, x):
            assert x.dtype == torch.uint8 and x.shape[1] == 3
            return (x.float().mean(dim=(2, 3)) * self.state["w"],)

    module = types.ModuleType("torch_fidelity.feature_extractor_inceptionv3")
    module.FeatureExtractorInceptionV3 = FakeInception
    monkeypatch.setitem(sys.modules, "torch_fidelity", types.ModuleType("torch_fidelity"))
    monkeypatch.setitem(sys.modules, "torch_fidelity.feature_extractor_inceptionv3", module)
    return created


def stand_in(calls: list | None = None) -> FeatureExtractor:
    """Per-channel means and stds of the uint8 image: 6 features, deterministic."""

    def fn(x):
        if calls is not None:
            calls.append(len(x))
        xf = x.float() / 255
        return torch.cat([xf.mean(dim=(2, 3)), xf.std(dim=(2, 3))], dim=1)

    return FeatureExtractor("stand-in", fn, batch_size=7)


def test_no_weights_is_one_line_saying_how_to_provide_them(no_weights):
    with pytest.raises(DifflabError) as err:
        find_inception_weights()
    text = str(err.value)
    assert "\n" not in text and "--inception-weights" in text and fidmod.WEIGHTS_ENV in text
    assert "nothing is downloaded" in text and fidmod.WEIGHTS_FILE in text
    with pytest.raises(DifflabError, match="do not exist"):
        find_inception_weights(no_weights / "missing.pth")


def test_weights_found_by_path_env_and_torch_hub_cache(no_weights, monkeypatch):
    hub = no_weights / "hub" / "checkpoints"
    hub.mkdir(parents=True)
    (hub / fidmod.WEIGHTS_FILE).write_bytes(b"x")
    assert find_inception_weights() == hub / fidmod.WEIGHTS_FILE
    other = no_weights / "w.pth"
    other.write_bytes(b"x")
    monkeypatch.setenv(fidmod.WEIGHTS_ENV, str(other))
    assert find_inception_weights() == other
    assert find_inception_weights(hub / fidmod.WEIGHTS_FILE) == hub / fidmod.WEIGHTS_FILE


def test_missing_extra_names_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch_fidelity.feature_extractor_inceptionv3", None)  # import fails
    with pytest.raises(DifflabError, match=r"torch-fidelity.*pip install 'difflab\[fid\]'"):
        inception_extractor()


def test_extractor_loads_only_plain_tensor_files(fake_fidelity, no_weights):
    good, bad = no_weights / "good.pth", no_weights / "bad.pth"
    torch.save({"w": torch.tensor(2.0)}, good)
    torch.save({"w": Unsafe()}, bad)
    with pytest.raises(DifflabError, match="not a plain InceptionV3 state dict"):
        inception_extractor(bad)
    assert not fake_fidelity  # refused before torch-fidelity saw the file
    ext = inception_extractor(good)
    assert ext.name == fidmod.INCEPTION_NAME
    feats = ext.fn(torch.full((2, 3, 4, 4), 10, dtype=torch.uint8))
    assert torch.equal(feats, torch.full((2, 3), 20.0))


def test_to_uint8_rgb_repeats_grey_rounds_and_clips():
    x = torch.tensor([0.0, 0.5, 1.0, 1.7, -0.2, 0.499 / 255]).reshape(1, 1, 2, 3)
    out = to_uint8_rgb(x)
    assert out.dtype == torch.uint8 and out.shape == (1, 3, 2, 3)
    assert out[0, 0].flatten().tolist() == [0, 128, 255, 255, 0, 0]
    assert torch.equal(out[:, 0], out[:, 2])
    rgb = torch.rand(2, 3, 4, 4)
    assert torch.equal(to_uint8_rgb(rgb), torch.from_numpy(np.rint(rgb.double().numpy() * 255).astype(np.uint8)))
    with pytest.raises(DifflabError, match=r"\(N, 1 or 3, H, W\)"):
        to_uint8_rgb(torch.rand(2, 2, 4, 4))


def test_reference_features_are_cached_per_split_and_recomputed_when_corrupt(tmp_path):
    gen = torch.Generator().manual_seed(0)
    ref, other = torch.rand(20, 3, 8, 8, generator=gen), torch.rand(20, 3, 8, 8, generator=gen)
    calls: list[int] = []
    ext = stand_in(calls)
    first, cached = reference_features(ref, ext, label="toy-test", cache_dir=tmp_path)
    assert not cached and sum(calls) == 20 and first.shape == (20, 6)
    files = list(tmp_path.glob("toy-test-*-stand-in.safetensors"))
    assert len(files) == 1
    calls.clear()
    again, cached = reference_features(ref, ext, label="toy-test", cache_dir=tmp_path)
    assert cached and not calls
    np.testing.assert_allclose(again, first, rtol=1e-6)  # stored as float32
    # other images (another split or dataset option) never read this entry
    _, cached = reference_features(other, ext, label="toy-test", cache_dir=tmp_path)
    assert not cached and len(list(tmp_path.glob("*.safetensors"))) == 2
    files[0].write_bytes(b"not a safetensors file")
    calls.clear()
    redo, cached = reference_features(ref, ext, label="toy-test", cache_dir=tmp_path)
    assert not cached and sum(calls) == 20
    np.testing.assert_allclose(redo, first)
    assert reference_features(ref, ext, label="toy-test", cache_dir=tmp_path)[1]


def test_fid_kid_use_the_shared_formulas(tmp_path):
    gen = torch.Generator().manual_seed(1)
    ref = torch.rand(40, 1, 6, 6, generator=gen)
    samples = torch.rand(30, 1, 6, 6, generator=gen) * 0.5
    ext = stand_in()
    ref_feats, _ = reference_features(ref, ext, cache_dir=tmp_path)
    out = fid_kid(samples, ref_feats, ext, kid_subsets=5, kid_subset_size=30)
    feats = fidmod.extract_features(samples, ext)
    assert out["fid"] == pytest.approx(frechet_distance(*gaussian_moments(feats), *gaussian_moments(ref_feats)))
    assert out["kid"] == pytest.approx(kid(feats, ref_feats, subsets=5, subset_size=30)[0])
    same = fid_kid(ref, ref_feats, ext, kid_subsets=3, kid_subset_size=40)
    # the unbiased KID of a set against itself is near zero (not exactly: the cross term keeps its diagonal)
    assert same["fid"] < 1e-6 * out["fid"] and abs(same["kid"]) < 0.05 * out["kid"]


def test_kid_matches_a_brute_force_unbiased_mmd():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(7, 3)), rng.normal(0.5, 1.0, size=(7, 3))
    k = lambda a, b: (a @ b / 3 + 1) ** 3  # noqa: E731
    n = len(x)
    xx = sum(k(x[i], x[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    yy = sum(k(y[i], y[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    xy = sum(k(x[i], y[j]) for i in range(n) for j in range(n)) / n**2
    mean, std = kid(x, y, subsets=3, subset_size=50)  # one subset = the whole set, reordered
    assert mean == pytest.approx(xx + yy - 2 * xy, rel=1e-12) and std == pytest.approx(0.0, abs=1e-12)
    with pytest.raises(DifflabError, match="subsets >= 1"):
        kid(x, y, subsets=0)
