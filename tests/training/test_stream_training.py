"""Training from a streamed folder: exact resume (with LR decay and flips), one-line errors from the workers."""

import numpy as np
import pytest
import torch
from PIL import Image

from difflab.cli.main import main
from difflab.data import stream
from difflab.data._common import split_indices
from difflab.errors import DifflabError
from difflab.io import latest_checkpoint
from difflab.pipeline import train_run
from difflab.pipeline.run import CKPT_DIR
from tests.helpers import ROOT, TINY, interrupt_training, tiny_config, weights_of


def grey_folder(root, n=40, size=8):
    rng = np.random.default_rng(0)
    root.mkdir(parents=True)
    for i in range(n):
        Image.fromarray(rng.integers(0, 256, (size, size), dtype=np.uint8)).save(root / f"{i:03d}.png")
    return root


def _streamed(folder, *extra):
    return [
        "data.name=folder",
        f"data.options.path={folder}",
        "data.options.size=8",
        "data.options.channels=1",
        "data.stream=always",
        *extra,
    ]


def test_resume_is_exact_with_the_loader_flips_and_lr_decay(tmp_path):
    cfg = tiny_config(
        *_streamed(grey_folder(tmp_path / "img"), "data.hflip=true", "data.num_workers=1"),
        "train.lr_schedule=cosine",
        "train.warmup_steps=3",
        "train.grad_accum=2",
    )
    train_run(cfg, tmp_path / "straight", progress=False)

    interrupt_training(cfg, tmp_path / "resumed", stop_after=5)
    assert latest_checkpoint(tmp_path / "resumed" / CKPT_DIR).name == "step_000005"
    train_run(cfg, tmp_path / "resumed", progress=False)
    for group in ("model", "ema"):
        a = weights_of(latest_checkpoint(tmp_path / "straight" / CKPT_DIR), group)
        b = weights_of(latest_checkpoint(tmp_path / "resumed" / CKPT_DIR), group)
        assert all(torch.equal(a[k], b[k]) for k in a), group


def test_a_corrupt_image_is_one_line_naming_it(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(stream, "FIT_EXAMPLES", 4)  # so most training images are first read by a loader worker
    folder = grey_folder(tmp_path / "img")
    train, _ = split_indices("folder", 40, 0.05, 0)
    bad = folder / f"{train[np.setdiff1d(np.arange(len(train)), stream.fit_subset(len(train), 0))[0]]:03d}.png"
    bad.write_bytes(bad.read_bytes()[:60])  # the header still reads; decoding fails inside a loader worker
    args = [*TINY, *_streamed(folder, "data.num_workers=2"), "data.options.test_fraction=0.05", "train.steps=40"]
    code = main(["train", str(ROOT / "configs" / "digits.yaml"), *args, "--no-progress", "--out", str(tmp_path / "r")])
    lines = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(lines) == 1, lines
    assert lines[0].startswith("difflab: error: folder: cannot read image") and str(bad) in lines[0]


def test_hflip_needs_images(tmp_path):
    with pytest.raises(DifflabError, match="data.hflip mirrors images"):
        train_run(tiny_config("data.name=toy2d", "network.kind=mlp", "data.hflip=true"), tmp_path / "r", progress=False)
