"""Atomic writes keep the old file when anything fails, and leave no temp files."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from difflab.errors import DifflabError
from difflab.io import JsonlLogger, atomic_open, atomic_write_bytes, atomic_write_json, atomic_write_text, read_jsonl


def test_writes_and_replaces(tmp_path: Path):
    target = tmp_path / "sub" / "a.txt"
    atomic_write_text(target, "one")
    atomic_write_text(target, "two")
    assert target.read_text() == "two"
    atomic_write_bytes(target, b"\x00\x01")
    assert target.read_bytes() == b"\x00\x01"
    assert os.listdir(target.parent) == ["a.txt"]
    umask = os.umask(0)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask  # not mkstemp's 0600


def test_json_serialisation_error_keeps_old_file(tmp_path: Path):
    target = tmp_path / "m.json"
    atomic_write_json(target, {"ok": 1})
    with pytest.raises(TypeError):
        atomic_write_json(target, {"ok": 2, "bad": object()})
    assert json.loads(target.read_text()) == {"ok": 1}
    assert os.listdir(tmp_path) == ["m.json"]
    atomic_write_json(target, {"t": torch.tensor(1.5), "n": np.float32(2.0), "p": Path("x")})
    assert json.loads(target.read_text()) == {"t": 1.5, "n": 2.0, "p": "x"}


def test_failure_mid_stream_keeps_old_file(tmp_path: Path):
    target = tmp_path / "img.png"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError, match="boom"), atomic_open(target) as f:
        f.write(b"half of the new file")
        raise RuntimeError("boom")
    assert target.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["img.png"]


def test_jsonl_logger_appends_flushes_and_survives_torn_line(tmp_path: Path):
    path = tmp_path / "log.jsonl"
    log = JsonlLogger(path)
    log.log({"step": 1, "loss": torch.tensor(0.5)})
    log(step=2, loss=0.25)
    assert read_jsonl(path) == [{"step": 1, "loss": 0.5}, {"step": 2, "loss": 0.25}]  # flushed while open
    log.close()
    with pytest.raises(DifflabError, match="closed"):
        log.log(step=3)
    with open(path, "a") as f:
        f.write('{"step": 3, "lo')  # a run killed mid-write
    assert [r["step"] for r in read_jsonl(path)] == [1, 2]
    with JsonlLogger(path) as resumed:
        resumed.log(step=3)
    assert [r["step"] for r in read_jsonl(path)] == [1, 2, 3]
    path.write_text('{"a": 1}\nnot json\n{"a": 2}\n')
    with pytest.raises(DifflabError, match="line 2"):
        read_jsonl(path)
