"""The logged gradient norm: the same with and without clipping, and the norm of the step's gradients."""

import pytest
import torch

from difflab.io import latest_checkpoint, read_jsonl
from difflab.pipeline import train_run
from difflab.pipeline.run import CKPT_DIR, LOG_NAME
from tests.helpers import tiny_config, weights_of


def test_grad_norm_is_logged_with_and_without_clipping(tmp_path):
    """grad_clip=0 (no clipping: get_total_norm) and a clip that never binds (clip_grad_norm_) agree exactly."""
    for name, clip in (("free", "0"), ("loose", "1e9")):
        train_run(tiny_config(f"train.grad_clip={clip}", "train.log_every=1"), tmp_path / name, progress=False)
    free, loose = (read_jsonl(tmp_path / n / LOG_NAME) for n in ("free", "loose"))
    assert [r["grad_norm"] for r in free] == [r["grad_norm"] for r in loose]
    assert all(r["grad_norm"] > 0 for r in free)
    a, b = (weights_of(latest_checkpoint(tmp_path / n / CKPT_DIR)) for n in ("free", "loose"))
    assert all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.filterwarnings("ignore:Seems like `optimizer.step\\(\\)` has been overridden")
def test_grad_norm_is_the_norm_before_clipping():
    from difflab.training.trainer import Trainer

    def objective(m, x0, labels, generator):
        return (m(x0) ** 2).sum(1)

    data, trainers = torch.randn(8, 3), []
    for clip in ("0", "0.5"):
        torch.manual_seed(0)
        cfg = tiny_config(f"train.grad_clip={clip}", "train.batch_size=4").train
        trainer = Trainer(torch.nn.Linear(3, 2), objective, data, None, cfg, "/nonexistent", config={}, meta={}, seed=0)
        trainer.optimizer.step = lambda: None  # keep the gradients as the step left them
        trainer.train_step()
        trainers.append(trainer)
    free, clipped = ([p.grad.flatten() for p in t.model.parameters()] for t in trainers)
    free, clipped = torch.cat(free), torch.cat(clipped)
    norm = float(free.norm())
    assert norm > 0.5  # the clip binds here
    assert float(trainers[0].grad_norm) == float(trainers[1].grad_norm) == pytest.approx(norm, rel=1e-6)
    torch.testing.assert_close(clipped, free * 0.5 / norm, rtol=1e-5, atol=1e-7)
