"""Run-folder lock, DDP agreement on a stop signal, a second Ctrl-C, log truncation and temp clean-up."""

import os
import signal
import warnings

import pytest
import torch

from difflab.cli.main import main
from difflab.errors import DifflabError, DifflabWarning
from difflab.io import (
    JsonlLogger,
    clean_temporaries,
    latest_checkpoint,
    list_checkpoints,
    read_jsonl,
    run_lock,
    save_checkpoint,
    truncate_jsonl_after,
)
from difflab.training import trainer as trainer_mod
from difflab.training.distributed import DistInfo
from difflab.utils.faults import set_fault_hook
from tests.helpers import ROOT

TINY = [
    "train.steps=8",
    "train.batch_size=16",
    "train.checkpoint_every=4",
    "train.log_every=1",
    "network.hidden=16",
    "network.depth=2",
    "train.device=cpu",
]


def _train(out, *extra):
    return main(["train", str(ROOT / "configs" / "toy2d.yaml"), *TINY, *extra, "--no-progress", "--out", str(out)])


def test_a_second_train_on_a_locked_folder_is_refused_naming_the_pid(tmp_path, capsys):
    out = tmp_path / "run"
    with run_lock(out):
        assert _train(out) == 2
        err = capsys.readouterr().err.strip()
        assert err.count("\n") == 0 and f"being written by pid {os.getpid()}" in err
        assert not (out / "checkpoints").exists()  # refused before anything was written
    assert (out / ".lock").read_text() == ""  # released on exit
    assert _train(out) == 0


def test_a_stale_lock_is_taken_over_with_a_warning(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / ".lock").write_text("999999999")  # a pid that held it and died: the kernel dropped its flock
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with run_lock(out):
            assert (out / ".lock").read_text() == str(os.getpid())
    assert any("stale lock of pid 999999999" in str(w.message) for w in caught if w.category is DifflabWarning)


def test_the_lock_is_released_when_training_fails(tmp_path):
    out = tmp_path / "run"
    assert _train(out, "train.lr=1e9") == 2  # refused by the config range before training
    with run_lock(out):
        pass


@pytest.mark.parametrize(
    "local,other,expected",
    [(None, 0.0, None), (None, 1.0, signal.SIGTERM), (signal.SIGINT, 0.0, signal.SIGINT), (signal.SIGINT, 1.0, 2)],
)
def test_ranks_agree_on_a_stop(monkeypatch, local, other, expected):
    """Under DDP a signal on any rank stops every rank at the same step (one all-reduce of the flag)."""

    def fake_all_reduce_mean(value, info):  # this rank and one other
        return (value + other) / 2

    monkeypatch.setattr(trainer_mod, "all_reduce_mean", fake_all_reduce_mean)
    assert trainer_mod.agreed_stop(local, DistInfo(rank=1, world_size=2)) == expected
    assert trainer_mod.agreed_stop(local, DistInfo()) == local  # one process: no collective


def test_a_second_ctrl_c_stops_at_once_and_saves_nothing(tmp_path, capsys):
    out = tmp_path / "run"
    # What was installed before (default_int_handler, or SIG_IGN when pytest runs as a background job).
    before = signal.getsignal(signal.SIGINT)

    def twice(name, info):
        if name == "step:after_batch" and info["trainer"].step == 5:
            os.kill(os.getpid(), signal.SIGINT)
            os.kill(os.getpid(), signal.SIGINT)

    previous = set_fault_hook(twice)
    try:
        code = _train(out)
    finally:
        set_fault_hook(previous)
    err = capsys.readouterr().err
    assert code == 130 and "interrupted during step 6; that step was not saved" in err
    assert "the newest checkpoint is step_000004" in err
    assert [p.name for p in list_checkpoints(out / "checkpoints")] == ["step_000004"]
    assert signal.getsignal(signal.SIGINT) == before  # handlers restored


def test_sigterm_before_the_first_step_saves_nothing(tmp_path, capsys, monkeypatch):
    out = tmp_path / "run"
    real_resume = trainer_mod.Trainer.resume

    def resume_then_term(self):
        found = real_resume(self)
        os.kill(os.getpid(), signal.SIGTERM)  # handled: only sets the flag
        return found

    monkeypatch.setattr(trainer_mod.Trainer, "resume", resume_then_term)
    code = _train(out)
    assert code == 143 and "SIGTERM before the first step; nothing to save" in capsys.readouterr().err
    assert latest_checkpoint(out / "checkpoints") is None


def test_truncate_jsonl_after(tmp_path):
    path = tmp_path / "log.jsonl"
    with JsonlLogger(path) as log:
        for step in range(1, 7):
            log.log(step=step, loss=1.0 / step)
    with open(path, "a") as f:
        f.write('{"step": 7, "lo')  # torn by a kill
    assert truncate_jsonl_after(path, 4) == 2
    assert [r["step"] for r in read_jsonl(path)] == [1, 2, 3, 4]
    assert path.read_text().endswith("\n")
    assert truncate_jsonl_after(path, 0) == 4 and read_jsonl(path) == []
    assert truncate_jsonl_after(tmp_path / "missing.jsonl", 3) == 0


def test_clean_temporaries_restores_a_swapped_out_checkpoint(tmp_path):
    run = tmp_path / "ckpts"
    t = {"model": {"w": torch.ones(2)}}
    save_checkpoint(run, t, config={}, meta={"step": 3})
    save_checkpoint(run, t, config={}, meta={"step": 4})
    # a kill between the two renames of a same-step re-save: step_4 is only under its .old_ name
    os.rename(run / "step_000004", run / ".old_step_000004_1_2")
    (run / ".tmp_step_000005_x").mkdir()
    (run / ".del_step_000002_1_2").mkdir()
    removed = clean_temporaries(run)
    assert sorted(p.name for p in removed) == [".del_step_000002_1_2", ".tmp_step_000005_x"]
    assert sorted(p.name for p in run.iterdir()) == ["step_000003", "step_000004"]


def test_save_checkpoint_prunes_by_renaming_first(tmp_path):
    run = tmp_path / "ckpts"
    seen = []

    def hook(name, info):
        if name == "prune:renamed":
            seen.append((info["path"].name, sorted(p.name for p in run.iterdir())))

    previous = set_fault_hook(hook)
    try:
        for step in (1, 2, 3):
            save_checkpoint(run, {"m": {"w": torch.ones(1)}}, config={}, meta={"step": step}, keep_last=1)
    finally:
        set_fault_hook(previous)
    # at the moment of deletion the old folder no longer has a checkpoint's name
    for trash, listing in seen:
        assert trash.startswith(".del_step_") and trash[5:16] not in listing
    assert [p.name for p in list_checkpoints(run)] == ["step_000003"]


def test_run_lock_refuses_in_one_line(tmp_path):
    with run_lock(tmp_path), pytest.raises(DifflabError, match=r"being written by pid \d+"):
        with run_lock(tmp_path):
            pass


def test_an_out_path_that_is_a_file_is_one_line(tmp_path):
    out = tmp_path / "file"
    out.write_text("x")
    with pytest.raises(DifflabError, match="cannot lock run folder"):
        with run_lock(out):
            pass


def test_a_checkpoint_pruned_while_loading_is_not_called_corrupt(tmp_path, monkeypatch):
    """A reader racing a writer: the newest folder vanishes between listing and reading."""
    from difflab.io import checkpoint as ckpt_mod

    run = tmp_path / "ckpts"
    for step in (4, 8):
        save_checkpoint(run, {"m": {"w": torch.full((1,), float(step))}}, config={}, meta={"step": step})
    real_load = ckpt_mod.load_checkpoint

    def racing_load(path, **kw):
        if path.name == "step_000008" and path.exists():
            save_checkpoint(run, {"m": {"w": torch.full((1,), 12.0)}}, config={}, meta={"step": 12}, keep_last=1)
        return real_load(path, **kw)

    monkeypatch.setattr(ckpt_mod, "load_checkpoint", racing_load)
    with warnings.catch_warnings():
        warnings.simplefilter("error", DifflabWarning)  # no "corrupt" warning for a pruned folder
        ckpt = ckpt_mod.load_latest_checkpoint(run)
    assert ckpt.step == 12 and float(ckpt.tensors["m"]["w"]) == 12.0
