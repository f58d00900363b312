"""train.logger=tensorboard: event files read back with tensorboard's own reader, resume, one-line errors."""

import pytest

from difflab.cli.main import main
from difflab.io import read_jsonl
from difflab.io import tensorboard as tb
from difflab.pipeline import train_run
from difflab.pipeline.run import LOG_NAME
from tests.helpers import ROOT, TINY, interrupt_training, tiny_config

pytest.importorskip("tensorboard")
SCALARS = ("loss", "lr", "grad_norm", "images_per_s")


def _events(folder):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(folder))
    acc.Reload()
    return {name: [(e.step, e.value) for e in acc.Scalars(f"train/{name}")] for name in SCALARS}


def test_event_files_hold_the_jsonl_scalars(tmp_path):
    train_run(tiny_config("train.logger=tensorboard"), tmp_path / "run", progress=False)
    log = read_jsonl(tmp_path / "run" / LOG_NAME)  # the source of truth, still written
    events = _events(tmp_path / "run" / "tensorboard")
    assert [r["step"] for r in log] == [4, 8, 12]
    for name in SCALARS:
        assert [s for s, _ in events[name]] == [4, 8, 12], name
        assert [v for _, v in events[name]] == pytest.approx([r[name] for r in log], rel=1e-6), name
    assert all(r["grad_norm"] > 0 for r in log)


def test_resume_leaves_each_step_once(tmp_path):
    cfg = tiny_config("train.logger=tensorboard", "train.log_every=1", f"train.tensorboard_dir={tmp_path / 'tb'}")

    interrupt_training(cfg, tmp_path / "run", stop_after=7)
    assert [s for s, _ in _events(tmp_path / "tb")["loss"]] == list(range(1, 8))
    train_run(cfg, tmp_path / "run", progress=False)
    events = _events(tmp_path / "tb")
    log = read_jsonl(tmp_path / "run" / LOG_NAME)
    assert [s for s, _ in events["loss"]] == [r["step"] for r in log] == list(range(1, 13))
    assert [v for _, v in events["loss"]] == pytest.approx([r["loss"] for r in log], rel=1e-6)


def _train(capsys, tmp_path, *extra):
    code = main(
        ["train", str(ROOT / "configs" / "digits.yaml"), *TINY, *extra, "--no-progress", "--out", str(tmp_path)]
    )
    return code, capsys.readouterr().err


def test_missing_package_is_one_line_naming_the_extra(capsys, tmp_path, monkeypatch):
    real = tb.importlib.util.find_spec
    monkeypatch.setattr(tb.importlib.util, "find_spec", lambda n, *a: None if n == "tensorboard" else real(n, *a))
    code, err = _train(capsys, tmp_path / "run", "train.logger=tensorboard")
    lines = err.strip().splitlines()
    assert code == 2 and lines == [f"difflab: error: {tb.MISSING_EXTRA}"]
    assert not (tmp_path / "run" / "checkpoints").exists() or not any((tmp_path / "run" / "checkpoints").iterdir())


def test_unwritable_log_dir_is_one_line(capsys, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    code, err = _train(capsys, tmp_path / "run", "train.logger=tensorboard", f"train.tensorboard_dir={blocker / 'tb'}")
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1, err
    assert lines[0].startswith("difflab: error: cannot write TensorBoard logs to") and "tensorboard_dir" in lines[0]
