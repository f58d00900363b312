"""The ``folder`` dataset: resizing, channels, sub-folder labels, errors."""

import pytest
import torch
from PIL import Image

from difflab.data import load_dataset
from difflab.errors import DifflabError


def _png(path, w, h, colour):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (w, h), colour).save(path)


def test_resize_crop_and_channels(tmp_path):
    _png(tmp_path / "a.png", 40, 20, (255, 0, 0))
    _png(tmp_path / "b.JPG", 20, 30, (0, 0, 255))
    _png(tmp_path / "c.jpeg", 16, 16, (0, 255, 0))
    (tmp_path / "notes.txt").write_text("ignored")
    ds = load_dataset("folder", path=str(tmp_path), size=8, channels=3, test_fraction=0.3)
    assert ds.shape == (3, 8, 8) and len(ds.train) + len(ds.test) == 3
    assert ds.train_labels is None and ds.num_classes == 0
    both = torch.cat([ds.train, ds.test])
    assert both.min() >= -1 and both.max() <= 1
    # flat colours survive resizing: each image is one colour channel at +1, the others at -1
    per_image = both.mean(dim=(2, 3))
    assert torch.allclose(per_image.abs(), torch.ones_like(per_image), atol=0.02)
    gray = load_dataset("folder", path=str(tmp_path), size=8, channels=1)
    assert gray.shape == (1, 8, 8)


def test_subfolders_become_labels(tmp_path):
    for i in range(4):
        _png(tmp_path / "cats" / f"{i}.png", 10, 10, (i, i, i))
        _png(tmp_path / "dogs" / f"{i}.png", 10, 10, (200, i, i))
    ds = load_dataset("folder", path=str(tmp_path), size=4, test_fraction=0.25)
    assert ds.num_classes == 2 and ds.meta["class_names"] == ["cats", "dogs"]
    x = torch.cat([ds.train, ds.test])
    y = torch.cat([ds.train_labels, ds.test_labels])
    red = x[:, 0].mean(dim=(1, 2))
    assert torch.equal(y, (red > 0).long())


def test_errors(tmp_path):
    with pytest.raises(DifflabError, match="not a directory"):
        load_dataset("folder", path=str(tmp_path / "missing"))
    with pytest.raises(DifflabError, match="no PNG/JPEG images"):
        load_dataset("folder", path=str(tmp_path))
    _png(tmp_path / "ok.png", 8, 8, (1, 2, 3))
    (tmp_path / "broken.png").write_bytes(b"\x89PNG not really")
    with pytest.raises(DifflabError, match=r"cannot read image .*broken\.png"):
        load_dataset("folder", path=str(tmp_path))
    with pytest.raises(DifflabError, match="channels=2"):
        load_dataset("folder", path=str(tmp_path), channels=2)


def test_size_and_channels_are_inferred_and_reported(tmp_path):
    """16x16 grayscale PNGs stay 1x16x16 (not the old 3x32x32 default), and a warning says what was inferred."""
    for i in range(6):
        Image.new("L", (16, 16), 40 * i).save(tmp_path / f"{i}.png")
    with pytest.warns(UserWarning, match=r"6 images -> 1x16x16 \(inferred size=16, channels=1"):
        ds = load_dataset("folder", path=str(tmp_path))
    assert ds.shape == (1, 16, 16) and "inferred" in ds.meta["layout"]
    Image.new("RGB", (24, 24), (255, 0, 0)).save(tmp_path / "big.png")  # mixed sizes and modes
    with pytest.warns(UserWarning, match="resized .* to 16x16 from 16x16 \\(6\\), 24x24 \\(1\\)"):
        mixed = load_dataset("folder", path=str(tmp_path))
    assert mixed.shape == (3, 16, 16) and "1 grayscale image(s) repeated to RGB" not in mixed.meta["layout"]
    assert "6 grayscale image(s) repeated to RGB" in mixed.meta["layout"]
