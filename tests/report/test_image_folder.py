"""Numbered PNG folders: exact 8-bit values in the data's range, names, atomicity, refusals."""

import numpy as np
import pytest
import torch
from PIL import Image

from difflab.data._common import unit_image_normaliser
from difflab.data.digits import digits_normaliser
from difflab.errors import DifflabError
from difflab.report import image_folder
from difflab.report.image_folder import image_folder_names, save_image_folder


def _read(folder):
    return {p.name: np.asarray(Image.open(p)) for p in sorted(folder.iterdir())}


def test_digits_levels_map_to_0_255_exactly(tmp_path):
    levels = torch.arange(17, dtype=torch.float64).repeat(4)[:64].reshape(1, 1, 8, 8).repeat(3, 1, 1, 1)
    levels[1] = 16 - levels[1]
    norm = digits_normaliser()
    samples = norm.encode(levels).float()
    samples[2, 0, 0, 0] = 5.0  # out of range: clipped to white
    paths = save_image_folder(samples, tmp_path / "out", normaliser=norm)
    assert [p.name for p in paths] == ["000000.png", "000001.png", "000002.png"]
    images = _read(tmp_path / "out")
    assert list(images) == [p.name for p in paths]
    expect = np.round(levels[:, 0].numpy() * 255 / 16).astype(np.uint8)
    expect[2, 0, 0] = 255
    for i, name in enumerate(images):
        assert Image.open(tmp_path / "out" / name).mode == "L" and images[name].shape == (8, 8)
        np.testing.assert_array_equal(images[name], expect[i])


def test_8bit_rgb_images_come_back_as_they_were(tmp_path):
    g = torch.Generator().manual_seed(0)
    raw = torch.randint(0, 256, (5, 3, 6, 7), generator=g)
    norm = unit_image_normaliser()
    samples = norm.encode(raw.double() / 255).float()  # float32 round trip must not move a level
    save_image_folder(samples, tmp_path / "rgb", normaliser=norm)
    images = _read(tmp_path / "rgb")
    assert len(images) == 5 and all(Image.open(tmp_path / "rgb" / n).mode == "RGB" for n in images)
    np.testing.assert_array_equal(np.stack(list(images.values())), raw.permute(0, 2, 3, 1).numpy().astype(np.uint8))


def test_names_sort_in_sample_order():
    assert image_folder_names(3) == ["000000.png", "000001.png", "000002.png"]
    assert image_folder_names(1_000_001)[-1] == "1000000.png"
    assert image_folder_names(1_000_001)[:2] == ["0000000.png", "0000001.png"]


def test_an_empty_folder_is_filled_a_non_empty_one_refused(tmp_path):
    x = torch.zeros(2, 1, 4, 4)
    (tmp_path / "empty").mkdir()
    save_image_folder(x, tmp_path / "empty")
    assert sorted(p.name for p in (tmp_path / "empty").iterdir()) == ["000000.png", "000001.png"]
    with pytest.raises(DifflabError, match="not an empty folder") as err:
        save_image_folder(x, tmp_path / "empty")
    assert "\n" not in str(err.value)
    (tmp_path / "file").write_text("x")
    with pytest.raises(DifflabError, match="not an empty folder"):
        save_image_folder(x, tmp_path / "file")
    with pytest.raises(DifflabError, match="1 or 3 channels"):
        save_image_folder(torch.zeros(2, 5), tmp_path / "vectors")
    assert not (tmp_path / "vectors").exists()


def test_a_failure_half_way_leaves_nothing(tmp_path, monkeypatch):
    calls = []
    real_save = Image.Image.save

    def failing_save(self, fp, *args, **kwargs):
        calls.append(fp)
        if len(calls) == 3:
            raise OSError("disk full")
        return real_save(self, fp, *args, **kwargs)

    monkeypatch.setattr(image_folder.Image.Image, "save", failing_save)
    with pytest.raises(OSError, match="disk full"):
        save_image_folder(torch.zeros(5, 1, 4, 4), tmp_path / "out")
    assert list(tmp_path.iterdir()) == []  # neither the folder nor the temp folder
