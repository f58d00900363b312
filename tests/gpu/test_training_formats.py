"""fp16 + GradScaler, the bf16 -> fp16 fallback, channels-last, torch.compile and a pinned streamed loader on CUDA.

Skipped where no CUDA device is present (CI has none); ``pytest tests/gpu`` on a GPU machine.
"""

import numpy as np
import pytest
import torch
from PIL import Image

from difflab.io import latest_checkpoint, load_checkpoint, read_jsonl
from difflab.pipeline import load_run, train_run
from difflab.pipeline.run import CKPT_DIR, LOG_NAME
from difflab.utils import device as device_mod
from tests.helpers import tiny_config

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def _train(out, *overrides):
    train_run(tiny_config("train.device=cuda", "train.log_every=1", *overrides), out, progress=False)
    return load_checkpoint(latest_checkpoint(out / CKPT_DIR))


def _finite(out):
    run = load_run(out)
    return all(torch.isfinite(p).all() for p in run.denoiser.parameters())


def test_fp16_trains_with_a_saved_grad_scaler(tmp_path):
    ckpt = _train(tmp_path / "run", "train.precision=fp16")
    assert ckpt.meta["grad_scaler"]["scale"] > 0 and _finite(tmp_path / "run")
    assert all(np.isfinite(r["loss"]) and np.isfinite(r["grad_norm"]) for r in read_jsonl(tmp_path / "run" / LOG_NAME))


def test_fp16_resume_restores_the_scale(tmp_path):
    _train(tmp_path / "run", "train.precision=fp16", "train.steps=6")
    first = load_checkpoint(latest_checkpoint(tmp_path / "run" / CKPT_DIR)).meta["grad_scaler"]
    ckpt = _train(tmp_path / "run", "train.precision=fp16", "train.steps=12")
    assert ckpt.step == 12 and first["scale"] > 0 and ckpt.meta["grad_scaler"]["scale"] > 0


def test_bf16_without_bf16_support_trains_in_fp16(tmp_path, monkeypatch):
    monkeypatch.setattr(device_mod.torch.cuda, "is_bf16_supported", lambda *a, **k: False)
    ckpt = _train(tmp_path / "run", "train.precision=bf16")
    assert "grad_scaler" in ckpt.meta and _finite(tmp_path / "run")


def test_channels_last_on_cuda_matches_the_default(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.backends.cudnn, "allow_tf32", False)  # TF32 convs would differ by ~1e-3 alone
    monkeypatch.setattr(torch.backends.cuda.matmul, "allow_tf32", False)
    _train(tmp_path / "a", "train.precision=fp32", "train.steps=4")
    _train(tmp_path / "b", "train.precision=fp32", "train.steps=4", "train.channels_last=true")
    a, b = (load_checkpoint(latest_checkpoint(tmp_path / r / CKPT_DIR)).tensors["model"] for r in "ab")
    assert all(b[k].is_contiguous() and torch.allclose(a[k], b[k], atol=1e-3, rtol=1e-2) for k in a)


def test_compile_on_cuda_trains(tmp_path):
    _train(tmp_path / "run", "train.compile=true", "train.steps=4")
    assert _finite(tmp_path / "run")


def test_streamed_folder_with_pinned_memory(tmp_path):
    rng = np.random.default_rng(0)
    (tmp_path / "img").mkdir()
    for i in range(40):
        Image.fromarray(rng.integers(0, 256, (8, 8), dtype=np.uint8)).save(tmp_path / "img" / f"{i}.png")
    folder = [f"data.options.path={tmp_path / 'img'}", "data.options.size=8", "data.options.channels=1"]
    _train(tmp_path / "run", "data.name=folder", *folder, "data.stream=always", "data.num_workers=2", "data.hflip=true")
    assert _finite(tmp_path / "run")
