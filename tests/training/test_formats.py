"""train.precision (fp16 fallback), train.channels_last and train.compile on the CPU (the CUDA paths: tests/gpu)."""

import pytest
import torch

from difflab.io import latest_checkpoint, load_checkpoint, read_jsonl
from difflab.pipeline import train_run
from difflab.pipeline.run import CKPT_DIR, LOG_NAME
from difflab.utils import device as device_mod
from difflab.utils.device import effective_precision
from tests.helpers import tiny_config, weights_of


def test_precision_on_the_cpu_is_fp32_and_bf16_falls_back_to_fp16(monkeypatch):
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    assert [effective_precision(cpu, p) for p in ("fp32", "bf16", "fp16")] == ["fp32"] * 3
    monkeypatch.setattr(device_mod.torch.cuda, "is_bf16_supported", lambda *a, **k: False)
    assert [effective_precision(cuda, p) for p in ("fp32", "bf16", "fp16")] == ["fp32", "fp16", "fp16"]
    monkeypatch.setattr(device_mod.torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    assert [effective_precision(cuda, p) for p in ("fp32", "bf16", "fp16")] == ["fp32", "bf16", "fp16"]


def _weights(run):
    return weights_of(latest_checkpoint(run / CKPT_DIR))


def test_fp16_on_the_cpu_trains_exactly_as_fp32(tmp_path):
    """The scaler is off where autocast is (CPU): the default path, bit for bit, and no scaler state saved."""
    train_run(tiny_config("train.steps=4", "train.precision=fp32"), tmp_path / "a", progress=False)
    train_run(tiny_config("train.steps=4", "train.precision=fp16"), tmp_path / "b", progress=False)
    a, b = _weights(tmp_path / "a"), _weights(tmp_path / "b")
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert "grad_scaler" not in load_checkpoint(latest_checkpoint(tmp_path / "b" / CKPT_DIR)).meta


def test_channels_last_trains_the_same_model_and_saves_contiguous_weights(tmp_path):
    train_run(tiny_config("train.steps=4"), tmp_path / "a", progress=False)
    train_run(tiny_config("train.steps=4", "train.channels_last=true"), tmp_path / "b", progress=False)
    a, b = _weights(tmp_path / "a"), _weights(tmp_path / "b")
    assert all(v.is_contiguous() for v in b.values())
    # other conv kernels: equal up to float rounding, after 4 optimiser steps
    assert all(torch.allclose(a[k], b[k], atol=1e-4, rtol=1e-3) for k in a)


@pytest.mark.slow
def test_compile_trains_the_same_model(tmp_path, monkeypatch):
    """The wiring (in-place compile, checkpoint names, same losses) through dynamo with the eager backend.

    Inductor's code generation takes minutes on a loaded 2-core CPU; tests/gpu compiles for real.
    """
    if not torch._dynamo.is_dynamo_supported():
        pytest.skip("torch.compile is not supported on this platform")
    real = torch.nn.Module.compile
    monkeypatch.setattr(torch.nn.Module, "compile", lambda self, **kw: real(self, backend="eager"))
    overrides = ("train.steps=2", "train.log_every=1", "train.checkpoint_every=2")
    train_run(tiny_config(*overrides), tmp_path / "a", progress=False)
    train_run(tiny_config(*overrides, "train.compile=true"), tmp_path / "b", progress=False)
    a, b = _weights(tmp_path / "a"), _weights(tmp_path / "b")
    assert set(a) == set(b)  # compiled in place: the checkpoint names are the model's own
    assert all(torch.allclose(a[k], b[k], atol=1e-4, rtol=1e-3) for k in a)
    la, lb = read_jsonl(tmp_path / "a" / LOG_NAME), read_jsonl(tmp_path / "b" / LOG_NAME)
    assert [r["loss"] for r in lb] == pytest.approx([r["loss"] for r in la], rel=1e-4)
