"""The learning-rate schedule: closed forms, diffusers' schedules as peers, exact resume while decaying."""

import math

import pytest
import torch

from difflab.config.schema import TrainConfig
from difflab.io import latest_checkpoint, read_jsonl
from difflab.pipeline import train_run
from difflab.pipeline.run import CKPT_DIR, LOG_NAME
from difflab.training.lr import lr_factor
from tests.helpers import interrupt_training, tiny_config, weights_of


def test_constant_is_the_old_warm_up():
    for warm in (0, 1, 7):
        cfg = TrainConfig(steps=50, warmup_steps=warm)
        old = [min(1.0, (s + 1) / warm) if warm else 1.0 for s in range(60)]
        assert [lr_factor(s, cfg) for s in range(60)] == old
    assert TrainConfig().lr_schedule == "constant"


@pytest.mark.parametrize("schedule", ["cosine", "linear"])
@pytest.mark.parametrize("ratio", [0.0, 0.1, 1.0])
def test_decay_closed_form(schedule, ratio):
    cfg = TrainConfig(steps=40, warmup_steps=8, lr_schedule=schedule, lr_min_ratio=ratio)
    f = [lr_factor(s, cfg) for s in range(45)]
    assert f[:8] == [(s + 1) / 8 for s in range(8)]
    assert f[8] == 1.0 and f[40] == pytest.approx(ratio, abs=1e-15) and f[44] == f[40]
    assert all(a >= b for a, b in zip(f[8:], f[9:], strict=False))  # non-increasing after the warm-up
    mid = f[24]  # progress 1/2
    assert mid == pytest.approx((1 + ratio) / 2, abs=1e-15)  # cosine and linear meet half-way
    quarter = f[16]  # progress 1/4
    expect = ratio + (1 - ratio) * (0.5 * (1 + math.cos(math.pi / 4)) if schedule == "cosine" else 0.75)
    assert quarter == pytest.approx(expect, abs=1e-15)


@pytest.mark.parametrize("schedule", ["cosine", "linear"])
def test_matches_diffusers_after_the_warm_up(schedule):
    optimization = pytest.importorskip("diffusers.optimization")
    peer = {
        "cosine": optimization.get_cosine_schedule_with_warmup,
        "linear": optimization.get_linear_schedule_with_warmup,
    }
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
    sched = peer[schedule](opt, num_warmup_steps=10, num_training_steps=100)
    cfg = TrainConfig(steps=100, warmup_steps=10, lr_schedule=schedule, lr_min_ratio=0.0)
    for step in range(100):
        if step >= 10:  # diffusers' warm-up is step / W, ours (step + 1) / W (the default since the start)
            assert sched.get_last_lr()[0] == pytest.approx(lr_factor(step, cfg), abs=1e-12), step
        opt.step()
        sched.step()


def test_resume_while_decaying_is_bit_exact(tmp_path):
    decay = ["train.lr_schedule=cosine", "train.lr_min_ratio=0.05", "train.warmup_steps=3", "train.log_every=1"]
    cfg = tiny_config(*decay)
    train_run(cfg, tmp_path / "straight", progress=False)

    interrupt_training(cfg, tmp_path / "resumed", stop_after=5)
    assert latest_checkpoint(tmp_path / "resumed" / CKPT_DIR).name == "step_000005"
    train_run(cfg, tmp_path / "resumed", progress=False)
    for group in ("model", "ema"):
        a = weights_of(latest_checkpoint(tmp_path / "straight" / CKPT_DIR), group)
        b = weights_of(latest_checkpoint(tmp_path / "resumed" / CKPT_DIR), group)
        assert all(torch.equal(a[k], b[k]) for k in a), group
    # the logged rates are the schedule's (the rate after step s is the one step s + 1 will use)
    lrs = [r["lr"] for r in read_jsonl(tmp_path / "resumed" / LOG_NAME)]
    assert lrs == [r["lr"] for r in read_jsonl(tmp_path / "straight" / LOG_NAME)]
    assert lrs == pytest.approx([cfg.train.lr * lr_factor(s, cfg.train) for s in range(1, cfg.train.steps + 1)])
    assert lrs[-1] == pytest.approx(0.05 * cfg.train.lr)
