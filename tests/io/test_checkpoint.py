"""Checkpoints: exact round trips (optimizer included), completeness, corruption, pruning."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import pytest
import torch

from difflab.errors import DifflabError
from difflab.io import (
    flatten_optimizer_state,
    latest_checkpoint,
    list_checkpoints,
    load_checkpoint,
    save_checkpoint,
    unflatten_optimizer_state,
)


def _trained(seed: int = 0) -> tuple[torch.nn.Module, torch.optim.Optimizer]:
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2, betas=(0.9, 0.99), weight_decay=0.1)
    for _ in range(2):
        opt.zero_grad()
        model(torch.randn(5, 3)).square().mean().backward()
        opt.step()
    return model, opt


def _save(run: Path, step: int, **kw) -> Path:
    model, opt = _trained()
    tensors, skeleton = flatten_optimizer_state(opt.state_dict())
    return save_checkpoint(
        run,
        {"model": model.state_dict(), "optim": tensors},
        config={"net": {"width": 4}},
        meta={"step": step, "optim": skeleton},
        **kw,
    )


def _assert_same(a, b):
    if isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor) and a.dtype == b.dtype and torch.equal(a, b)
    elif isinstance(a, dict):
        assert list(a) == list(b)
        for k in a:
            _assert_same(a[k], b[k])
    elif isinstance(a, (list, tuple)):
        assert type(a) is type(b) and len(a) == len(b)
        for x, y in zip(a, b):
            _assert_same(x, y)
    else:
        assert a == b or (isinstance(a, float) and math.isnan(a) and math.isnan(b))


def test_round_trip_with_adamw_state(tmp_path: Path):
    model, opt = _trained()
    tensors, skeleton = flatten_optimizer_state(opt.state_dict())
    path = save_checkpoint(
        tmp_path,
        {"model": model.state_dict(), "ema": {"w": torch.ones(2, dtype=torch.bfloat16)}, "optim": tensors, "empty": {}},
        config={"lr": 1e-2, "mults": [1, 2]},
        meta={"step": 123, "optim": skeleton, "note": "x"},
    )
    assert path == tmp_path / "step_000123"
    assert sorted(os.listdir(path)) == ["config.yaml", "meta.json", "model.safetensors"]
    ckpt = load_checkpoint(path)
    assert ckpt.step == 123 and ckpt.meta["note"] == "x" and ckpt.config == {"lr": 1e-2, "mults": [1, 2]}
    assert set(ckpt.tensors) == {"model", "ema", "optim", "empty"} and ckpt.tensors["empty"] == {}
    _assert_same(model.state_dict(), ckpt.tensors["model"])
    _assert_same(ckpt.tensors["ema"], {"w": torch.ones(2, dtype=torch.bfloat16)})
    restored = unflatten_optimizer_state(ckpt.tensors["optim"], ckpt.meta["optim"])
    _assert_same(opt.state_dict(), restored)

    # Resuming from the loaded state gives the very same next step as continuing.
    model2, opt2 = _trained(seed=1)
    model2.load_state_dict(ckpt.tensors["model"])
    opt2.load_state_dict(restored)
    x = torch.randn(5, 3)
    for m, o in ((model, opt), (model2, opt2)):
        o.zero_grad()
        m(x).square().mean().backward()
        o.step()
    _assert_same(model.state_dict(), model2.state_dict())


def test_optimizer_skeleton_is_plain_json():
    state = {
        "state": {0: {"step": torch.tensor(3.0), "buf": torch.zeros(2)}},
        "param_groups": [{"params": [0], "betas": (0.9, 0.999), "lr": float("inf"), "foreach": None}],
    }
    tensors, skeleton = flatten_optimizer_state(state)
    assert set(tensors) == {"state.0.step", "state.0.buf"}
    _assert_same(state, unflatten_optimizer_state(tensors, json.loads(json.dumps(skeleton, allow_nan=False))))
    with pytest.raises(DifflabError, match="state.0.buf"):
        unflatten_optimizer_state({"state.0.step": torch.tensor(3.0)}, skeleton)
    with pytest.raises(DifflabError, match="param_groups.0.fn"):
        flatten_optimizer_state({"param_groups": [{"fn": object()}]})


def test_latest_skips_incomplete_and_temp_folders(tmp_path: Path):
    assert latest_checkpoint(tmp_path / "nope") is None
    _save(tmp_path, 5)
    _save(tmp_path, 10)
    broken = tmp_path / "step_000020"
    broken.mkdir()
    (broken / "model.safetensors").write_bytes(b"partial")  # no meta.json: interrupted save
    (tmp_path / ".tmp_step_000030_abc").mkdir()
    assert latest_checkpoint(tmp_path) == tmp_path / "step_000010"
    with pytest.raises(DifflabError, match=r"incomplete or corrupt: meta\.json is missing"):
        load_checkpoint(broken)


def test_resave_same_step_replaces(tmp_path: Path):
    _save(tmp_path, 7)
    save_checkpoint(tmp_path, {"model": {"a": torch.zeros(1)}}, config={}, meta={"step": 7})
    assert list_checkpoints(tmp_path) == [tmp_path / "step_000007"]
    assert set(load_checkpoint(tmp_path / "step_000007").tensors) == {"model"}
    assert [p.name for p in tmp_path.iterdir()] == ["step_000007"]


def test_keep_last_prunes_oldest(tmp_path: Path):
    for step in (1, 2, 3, 4):
        _save(tmp_path, step, keep_last=2)
    assert [p.name for p in list_checkpoints(tmp_path)] == ["step_000003", "step_000004"]
    with pytest.raises(DifflabError, match="keep_last"):
        _save(tmp_path, 5, keep_last=0)


@pytest.mark.parametrize(
    ("damage", "needle"),
    [
        (lambda p: (p / "model.safetensors").unlink(), r"corrupt: model\.safetensors is missing"),
        (lambda p: (p / "config.yaml").unlink(), r"corrupt: config\.yaml is missing"),
        (lambda p: (p / "model.safetensors").write_bytes(b"garbage"), r"corrupt: model\.safetensors does not match"),
        (lambda p: (p / "meta.json").write_text("{"), r"corrupt: cannot parse meta\.json"),
    ],
)
def test_corruption_names_the_file(tmp_path: Path, damage, needle):
    path = _save(tmp_path, 1)
    damage(path)
    with pytest.raises(DifflabError, match=needle):
        load_checkpoint(path)


def test_unverified_garbage_still_fails_cleanly(tmp_path: Path):
    path = _save(tmp_path, 1)
    (path / "model.safetensors").write_bytes(b"garbage")
    with pytest.raises(DifflabError, match=r"corrupt: cannot read model\.safetensors"):
        load_checkpoint(path, verify=False)
    with pytest.raises(DifflabError, match="not found"):
        load_checkpoint(tmp_path / "step_999999")


def test_bad_inputs_fail_before_writing(tmp_path: Path):
    with pytest.raises(DifflabError, match="'step'"):
        save_checkpoint(tmp_path, {}, config={}, meta={})
    with pytest.raises(DifflabError, match="group name"):
        save_checkpoint(tmp_path, {"a.b": {}}, config={}, meta={"step": 1})
    with pytest.raises(DifflabError, match="'model.x' is a list"):
        save_checkpoint(tmp_path, {"model": {"x": [1]}}, config={}, meta={"step": 1})
    with pytest.raises(TypeError):
        save_checkpoint(tmp_path, {}, config={}, meta={"step": 1, "bad": object()})
    assert list(tmp_path.iterdir()) == []


def test_shared_and_strided_tensors(tmp_path: Path):
    base = torch.arange(12.0).reshape(3, 4)
    group = {"w": base, "wt": base.t(), "row": base[1]}
    path = save_checkpoint(tmp_path, {"model": group}, config={}, meta={"step": 0})
    got = load_checkpoint(path).tensors["model"]
    assert torch.equal(got["wt"], base.t()) and torch.equal(got["row"], base[1])


def test_nearest_checkpoint_picks_the_closest_complete_step(tmp_path):
    from difflab.io import nearest_checkpoint

    assert nearest_checkpoint(tmp_path, 5) is None
    for step in (100, 200, 400):
        save_checkpoint(tmp_path, {"w": {"a": torch.zeros(1)}}, config={}, meta={"step": step})
    (tmp_path / "step_000300").mkdir()  # incomplete: no meta.json
    assert nearest_checkpoint(tmp_path, 290).name == "step_000200"
    assert nearest_checkpoint(tmp_path, 150).name == "step_000100"  # tie: the earlier
    assert nearest_checkpoint(tmp_path, 10_000).name == "step_000400"
