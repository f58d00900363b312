"""train.eval_every / train.keep_best: grids, the metric in JSONL and TensorBoard, the best checkpoint kept."""

import numpy as np
import pytest
import torch
from PIL import Image

from difflab.cli.main import main
from difflab.errors import DifflabError
from difflab.io import latest_checkpoint, load_checkpoint, read_jsonl
from difflab.metrics.sliced import sliced_wasserstein
from difflab.models.run import load_run
from difflab.pipeline import run as pipeline_run
from difflab.pipeline import train_run
from difflab.pipeline.run import CKPT_DIR
from difflab.training.evaluation import METRIC, Evaluation, make_evaluator
from tests.helpers import ROOT, TINY, interrupt_training, tiny_config, weights_of

EVAL = ["train.eval_every=4", "train.eval_n=16", "train.eval_steps=2"]


def test_grids_and_metric_in_jsonl_and_tensorboard(tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    train_run(tiny_config(*EVAL, "train.logger=tensorboard"), tmp_path / "run", progress=False)
    log = read_jsonl(tmp_path / "run" / "eval_log.jsonl")
    assert [r["step"] for r in log] == [4, 8, 12] and all(r["n"] == 16 and r[METRIC] > 0 for r in log)
    for step in (4, 8, 12):
        with Image.open(tmp_path / "run" / "samples" / f"step_{step:06d}.png") as img:
            assert img.size[0] > 8 * 4  # a 4 x 4 grid of 8 x 8 digits, upscaled
    acc = EventAccumulator(str(tmp_path / "run" / "tensorboard"), size_guidance={"images": 0})
    acc.Reload()
    scalars = acc.Scalars(f"eval/{METRIC}")
    assert [e.step for e in scalars] == [4, 8, 12]
    assert [e.value for e in scalars] == pytest.approx([r[METRIC] for r in log], rel=1e-6)
    assert [e.step for e in acc.Images("eval/samples")] == [4, 8, 12]
    assert [e.step for e in acc.Scalars("train/loss")] == [4, 8, 12]  # the training scalars are still there


def test_the_metric_is_the_sliced_distance_of_the_ema_samples(tmp_path):
    cfg = tiny_config(*EVAL, "train.steps=4")
    train_run(cfg, tmp_path / "run", progress=False)
    run = load_run(tmp_path / "run")
    data = pipeline_run.load_data(cfg)
    got = make_evaluator(cfg, run.info, data.test)(run.denoiser, run.step)
    assert got.metrics[METRIC] == pytest.approx(read_jsonl(tmp_path / "run" / "eval_log.jsonl")[0][METRIC], rel=1e-6)
    assert got.images.shape == (16, 1, 8, 8) and got.value_range == (0.0, 16.0)  # digits in their own units
    assert got.metrics[METRIC] > sliced_wasserstein(data.test[:16].numpy(), data.test[16:32].numpy(), seed=0)


def test_keep_best_keeps_the_lowest_step(tmp_path, monkeypatch):
    scripted = {4: 3.0, 8: 1.0, 12: 2.0}

    def fake(cfg, info, reference):
        return lambda model, step: Evaluation({METRIC: scripted[step]}, None, (-1.0, 1.0))

    monkeypatch.setattr(pipeline_run, "make_evaluator", fake)
    cfg = tiny_config(*EVAL, "train.keep_best=true", "train.checkpoint_every=4", "train.keep_last=1")
    train_run(cfg, tmp_path / "run", progress=False)
    best = sorted((tmp_path / "run" / "best").iterdir())
    assert [p.name for p in best] == ["step_000008"]  # kept although pruning left only step 12 in checkpoints/
    assert [p.name for p in (tmp_path / "run" / CKPT_DIR).iterdir()] == ["step_000012"]
    assert load_checkpoint(best[0]).meta["best"] == {METRIC: 1.0}
    # it is the state of step 8: the same as a run that stopped there
    train_run(tiny_config(*EVAL, "train.steps=8", "train.checkpoint_every=4"), tmp_path / "short", progress=False)
    a, b = weights_of(best[0], "ema"), weights_of(latest_checkpoint(tmp_path / "short" / CKPT_DIR), "ema")
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_evaluation_leaves_training_unchanged(tmp_path):
    train_run(tiny_config(), tmp_path / "plain", progress=False)
    train_run(tiny_config(*EVAL), tmp_path / "eval", progress=False)
    a = weights_of(latest_checkpoint(tmp_path / "plain" / CKPT_DIR))
    b = weights_of(latest_checkpoint(tmp_path / "eval" / CKPT_DIR))
    assert all(torch.equal(a[k], b[k]) for k in a)


def _train(capsys, out, *extra):
    code = main(["train", str(ROOT / "configs" / "digits.yaml"), *TINY, *extra, "--no-progress", "--out", str(out)])
    return code, capsys.readouterr().err.strip().splitlines()


def test_unwritable_samples_dir_is_one_line(capsys, tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "samples").write_text("a file where the folder goes")
    code, lines = _train(capsys, tmp_path / "run", *EVAL)
    assert code == 2 and len(lines) == 1 and lines[0].startswith("difflab: error: cannot write evaluation samples")


def test_keep_best_needs_eval_every(capsys, tmp_path):
    code, lines = _train(capsys, tmp_path / "run", "train.keep_best=true")
    assert code == 2 and len(lines) == 1 and "train.eval_every" in lines[0]
    with pytest.raises(DifflabError, match="needs an evaluator"):
        from difflab.training.trainer import Trainer

        Trainer(
            torch.nn.Linear(1, 1),
            None,
            torch.zeros(2, 1),
            None,
            tiny_config(*EVAL).train,
            tmp_path,
            config={},
            meta={},
            seed=0,
        )


def test_vector_data_has_a_metric_and_no_grid(tmp_path):
    cfg = tiny_config("data.name=toy2d", "network.kind=mlp", *EVAL, "train.steps=4")
    train_run(cfg, tmp_path / "run", progress=False)
    assert len(read_jsonl(tmp_path / "run" / "eval_log.jsonl")) == 1
    assert not any((tmp_path / "run" / "samples").iterdir())
    assert np.isfinite(read_jsonl(tmp_path / "run" / "eval_log.jsonl")[0][METRIC])


def test_resume_logs_each_evaluation_once(tmp_path):
    cfg = tiny_config(*EVAL, "train.checkpoint_every=3")

    interrupt_training(cfg, tmp_path / "run", stop_after=7)
    # stopped after step 7, checkpoint step_000007; cut a stale evaluation past it in, as a killed run leaves
    with open(tmp_path / "run" / "eval_log.jsonl", "a") as f:
        f.write('{"step": 8, "sliced_w1": 0.0}\n')
    train_run(cfg, tmp_path / "run", progress=False)
    log = read_jsonl(tmp_path / "run" / "eval_log.jsonl")
    assert [r["step"] for r in log] == [4, 8, 12] and log[1][METRIC] > 0


def test_evaluation_can_be_switched_on_when_resuming(tmp_path):
    train_run(tiny_config("train.steps=6", "train.checkpoint_every=6"), tmp_path / "run", progress=False)
    train_run(tiny_config(*EVAL, "train.keep_best=true"), tmp_path / "run", progress=False)
    assert [r["step"] for r in read_jsonl(tmp_path / "run" / "eval_log.jsonl")] == [8, 12]
    assert len(list((tmp_path / "run" / "best").iterdir())) == 1
