"""Report helpers: grid geometry and pixel values, valid PNG plots, markdown output."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from difflab.errors import DifflabError
from difflab.report import make_grid, markdown_table, plot_quality_vs_steps, save_image_grid, save_scatter, write_report

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _open(path: Path) -> Image.Image:
    with Image.open(path) as im:
        im.load()
        return im


def test_grid_png_size_mode_and_pixels(tmp_path: Path):
    images = torch.full((10, 1, 8, 8), -1.0)
    images[3] = 1.0  # one white digit
    path = save_image_grid(images, tmp_path / "g.png", nrow=4, upscale=3, padding=2, pad_value=0.5)
    im = _open(path)
    assert im.format == "PNG" and im.mode == "L"
    assert im.size == (4 * 24 + 5 * 2, 3 * 24 + 4 * 2)  # (width, height)
    px = np.asarray(im)
    assert px[2, 2] == 0 and px[2, 2 + 3 * 26] == 255 and px[0, 0] == 128  # image 0, image 3, padding
    assert px[2 + 26, 2 + 3 * 26] == 0  # image 7 (row 1) is black
    assert os.listdir(tmp_path) == ["g.png"]


def test_grid_auto_upscale_rgb_and_value_range(tmp_path: Path):
    images = np.zeros((2, 3, 8, 8))
    images[:, 0] = 255.0  # red in a [0, 255] range
    im = _open(save_image_grid(images, tmp_path / "rgb.png", value_range=(0, 255), padding=0))
    assert im.mode == "RGB" and im.size == (2 * 64, 64)  # 8x8 upscaled x8 by default
    assert tuple(np.asarray(im)[10, 10]) == (255, 0, 0)
    grid = make_grid(torch.tensor([[[[-5.0, 5.0], [float("nan"), 0.0]]]]), upscale=1, padding=0)
    assert grid[..., 0].tolist() == [[0, 255], [0, 128]]  # clipped, NaN -> low


@pytest.mark.parametrize("shape", [(0, 1, 8, 8), (2, 2, 8, 8), (8, 8)])
def test_grid_rejects_bad_shapes(tmp_path: Path, shape):
    with pytest.raises(DifflabError, match="shape"):
        save_image_grid(torch.zeros(shape), tmp_path / "x.png")
    assert not (tmp_path / "x.png").exists()


def test_quality_plot_and_scatter_are_pngs(tmp_path: Path):
    results = {"ddim": {1: 3.0, 2: 2.0, 4: 1.0, 8: 0.5}, "distributional": {1: 1.0, 4: 0.4}}
    path = plot_quality_vs_steps(results, tmp_path / "q.png", "energy distance", floor=0.3)
    assert path.read_bytes()[:8] == PNG_MAGIC and _open(path).size[0] > 100
    scatter = save_scatter(torch.randn(200, 2), tmp_path / "s.png", reference=np.random.randn(300, 2))
    assert scatter.read_bytes()[:8] == PNG_MAGIC
    with pytest.raises(DifflabError, match="positive"):
        plot_quality_vs_steps({"a": {0: 1.0}}, tmp_path / "bad.png", "m")
    with pytest.raises(DifflabError, match=r"\(N, 2\)"):
        save_scatter(torch.randn(5, 3), tmp_path / "bad.png")
    assert sorted(os.listdir(tmp_path)) == ["q.png", "s.png"]


def test_markdown_table_and_report(tmp_path: Path):
    table = markdown_table(
        [{"sampler": "ddim", "fd": 0.123456, "note": "a|b"}, {"sampler": "heun"}], ["sampler", "fd", "note"]
    )
    assert table.splitlines() == [
        "| sampler | fd | note |",
        "|---|---|---|",
        "| ddim | 0.1235 | a\\|b |",
        "| heun |  |  |",
    ]
    assert markdown_table([{"a": 1}, {"b": torch.tensor(2.5)}]).splitlines()[2:] == ["| 1 |  |", "|  | 2.5 |"]
    path = write_report(tmp_path / "r.md", "Digits", [("Samples", "![grid](g.png)\n"), ("Scores", table)])
    text = path.read_text()
    assert text.startswith("# Digits\n\n## Samples\n\n![grid](g.png)\n\n## Scores\n\n| sampler")
