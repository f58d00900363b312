"""Tampered run folders: every case is refused in one line before anything big is read or allocated,
and a corrupt newest checkpoint falls back to the newest intact one with a one-line warning."""

import hashlib
import json
import os
import shutil
import warnings

import pytest
import safetensors.torch
import torch

from difflab.cli.main import main
from difflab.errors import DifflabWarning
from difflab.io import list_checkpoints
from difflab.models import load_run
from tests.helpers import ROOT

from ._guards import outcome

TINY = [
    "train.steps=8",
    "train.batch_size=16",
    "train.checkpoint_every=4",
    "train.keep_last=3",
    "train.log_every=4",
    "network.hidden=16",
    "network.depth=2",
    "train.device=cpu",
]


@pytest.fixture(scope="module")
def clean_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("untrusted") / "run"
    assert main(["train", str(ROOT / "configs" / "toy2d.yaml"), *TINY, "--no-progress", "--out", str(out)]) == 0
    return out


@pytest.fixture
def run(clean_run, tmp_path):
    copy = tmp_path / "run"
    shutil.copytree(clean_run, copy)
    return copy


def _newest(run):
    return list_checkpoints(run / "checkpoints")[-1]


def _digest(data: bytes) -> dict:
    return {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def _tamper(ckpt, *, meta=None, config: bytes | None = None, weights: dict | None = None):
    """Edit a checkpoint the way an attacker would: contents changed, hashes recomputed to match."""
    m = json.loads((ckpt / "meta.json").read_text())
    if config is not None:
        (ckpt / "config.yaml").write_bytes(config)
        m["files"]["config.yaml"] = _digest(config)
    if weights is not None:
        data = safetensors.torch.save(weights)
        (ckpt / "model.safetensors").write_bytes(data)
        m["files"]["model.safetensors"] = _digest(data)
    if meta is not None:
        meta(m)
    (ckpt / "meta.json").write_text(json.dumps(m))


def _set(path, value):
    def edit(m):
        node = m
        for part in path[:-1]:
            node = node[part]
        node[path[-1]] = value

    return edit


META_CASES = {
    "step-string": _set(["step"], "abc"),
    "step-null": _set(["step"], None),
    "step-infinity": _set(["step"], float("inf")),
    "step-nan": _set(["step"], float("nan")),
    "groups-int": _set(["groups"], 5),
    "files-list": _set(["files"], []),
    "files-bytes-string": _set(["files", "model.safetensors", "bytes"], "many"),
    "scale-string": _set(["data", "normaliser", "scale"], "x"),
    "shape-huge": _set(["data", "shape"], [1, 100000, 100000]),
    "shape-strings": _set(["data", "shape"], ["a"]),
    "data-int": _set(["data"], 3),
    "classes-huge": _set(["data", "num_classes"], 10**12),
    "not-an-object": lambda m: m.clear() or m.update({"x": 1}),
}


@pytest.mark.parametrize("case", list(META_CASES))
def test_tampered_meta_is_one_line(run, case):
    ckpt = _newest(run)
    _tamper(ckpt, meta=META_CASES[case])
    kind, message = outcome(lambda: load_run(ckpt), case)
    assert kind == "error" and "checkpoint" in message and "corrupt" in message


CONFIG_CASES = {
    "hidden-huge": b"network:\n  kind: mlp\n  hidden: 60000\n  depth: 60\n",
    "alias-bomb": b"a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n"
    + b"".join(f"a{i}: &a{i} [".encode() + b", ".join([f"*a{i - 1}".encode()] * 10) + b"]\n" for i in range(1, 9)),
    "deep": b"extra: " + b"[" * 5000 + b"]" * 5000 + b"\n",
    "python-tag": b"seed: !!python/object/apply:os.system ['touch /tmp/difflab-pwned']\n",
    "not-utf8": b"seed: 0\n# \xff\n",
    "duplicate": b"seed: 0\nseed: 1\n",
}


@pytest.mark.parametrize("case", list(CONFIG_CASES))
def test_tampered_config_is_one_line_and_allocates_nothing_big(run, case):
    ckpt = _newest(run)
    text = CONFIG_CASES[case]
    if case == "hidden-huge":  # a valid config asking for a ~200 M-parameter MLP: refused before building it
        text = (
            (ckpt / "config.yaml")
            .read_bytes()
            .replace(b"hidden: 16", b"hidden: 60000")
            .replace(b"depth: 2", b"depth: 60")
        )
    _tamper(ckpt, config=text)
    kind, message = outcome(lambda: load_run(ckpt), case, seconds=10)
    assert kind == "error", case
    if case == "hidden-huge":
        assert "parameters" in message
    assert not os.path.exists("/tmp/difflab-pwned")


@pytest.mark.parametrize("kind", ["dev-zero", "fifo", "directory", "urandom-config"])
def test_weights_that_are_not_regular_files_are_refused_before_reading(run, kind):
    ckpt = _newest(run)
    target = ckpt / ("config.yaml" if kind == "urandom-config" else "model.safetensors")
    target.unlink()
    if kind == "dev-zero":
        target.symlink_to("/dev/zero")
    elif kind == "urandom-config":
        target.symlink_to("/dev/urandom")
    elif kind == "fifo":
        os.mkfifo(target)
    else:
        target.mkdir()
    outcome_kind, message = outcome(lambda: load_run(ckpt), kind, seconds=10)
    assert outcome_kind == "error" and "not a regular file" in message


@pytest.mark.parametrize("dtype", [torch.int8, torch.bool, torch.int64])
def test_integer_or_bool_weights_are_refused(run, dtype):
    ckpt = _newest(run)
    flat = safetensors.torch.load_file(ckpt / "model.safetensors")
    name = next(k for k in flat if k.startswith("ema.") and flat[k].is_floating_point())
    flat[name] = flat[name].to(dtype)
    _tamper(ckpt, weights=flat)
    kind, message = outcome(lambda: load_run(ckpt), str(dtype))
    assert kind == "error" and "dtype" in message


def test_a_wrong_shape_is_refused_before_loading(run):
    ckpt = _newest(run)
    flat = safetensors.torch.load_file(ckpt / "model.safetensors")
    name = next(k for k in flat if k.startswith("ema.") and flat[k].ndim == 2)
    flat[name] = torch.zeros(flat[name].shape[0] + 1, flat[name].shape[1])
    _tamper(ckpt, weights=flat)
    kind, message = outcome(lambda: load_run(ckpt), "shape")
    assert kind == "error" and "shape" in message


def test_a_corrupt_newest_checkpoint_falls_back_with_a_warning(run, capsys):
    newest = _newest(run)
    data = bytearray((newest / "model.safetensors").read_bytes())
    data[-5] ^= 0xFF
    (newest / "model.safetensors").write_bytes(bytes(data))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        loaded = load_run(run)
    assert loaded.step == 4 and loaded.path.name == "step_000004"
    messages = [str(w.message) for w in caught if issubclass(w.category, DifflabWarning)]
    assert len(messages) == 1 and newest.name in messages[0] and "\n" not in messages[0]
    # the CLI prints it as one line and samples from the older checkpoint
    code = main(["sample", str(run), "--n", "4", "--steps", "2", "--out", str(run / "s.npy")])
    err = capsys.readouterr().err
    assert code == 0 and (run / "s.npy").exists()
    assert [line for line in err.splitlines() if "warning" in line] == [
        line for line in err.splitlines() if newest.name in line
    ]
    assert "difflab: warning: skipping" in err
    # resume also falls back, then trains past it again
    assert main(["train", str(ROOT / "configs" / "toy2d.yaml"), *TINY, "--no-progress", "--out", str(run)]) == 0
    assert load_run(run).step == 8


def test_every_checkpoint_corrupt_is_an_error(run):
    for ckpt in list_checkpoints(run / "checkpoints"):
        (ckpt / "model.safetensors").write_bytes(b"garbage")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        kind, message = outcome(lambda: load_run(run), "all corrupt")
    assert kind == "error" and "corrupt" in message
