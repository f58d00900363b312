"""Training, checkpoints, resume, determinism and loading of a run."""

import json

import torch

from difflab.io import latest_checkpoint, list_checkpoints, load_checkpoint
from difflab.pipeline import generate, load_run, train_run
from difflab.pipeline.run import CKPT_DIR, CONFIG_NAME, LOG_NAME
from tests.helpers import tiny_config, weights_of


def test_run_directory_layout(tiny_run):
    assert (tiny_run / CONFIG_NAME).is_file()
    steps = [int(p.name.split("_")[1]) for p in list_checkpoints(tiny_run / CKPT_DIR)]
    assert steps == [6, 12]
    for ckpt in list_checkpoints(tiny_run / CKPT_DIR):
        assert {p.name for p in ckpt.iterdir()} == {"model.safetensors", "config.yaml", "meta.json"}
    log = [json.loads(line) for line in (tiny_run / LOG_NAME).read_text().splitlines()]
    assert [r["step"] for r in log] == [4, 8, 12]
    assert all(r["loss"] > 0 and r["images_per_s"] > 0 for r in log)


def test_training_is_deterministic_under_a_seed(tmp_path, tiny_run):
    train_run(tiny_config(), tmp_path / "again", progress=False)
    a = weights_of(latest_checkpoint(tiny_run / CKPT_DIR))
    b = weights_of(latest_checkpoint(tmp_path / "again" / CKPT_DIR))
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_resume_continues_exactly(tmp_path, tiny_run):
    out = tmp_path / "resumed"
    train_run(tiny_config("train.steps=6"), out, progress=False)
    train_run(tiny_config("train.steps=12"), out, progress=False)
    a = weights_of(latest_checkpoint(tiny_run / CKPT_DIR))
    b = weights_of(latest_checkpoint(out / CKPT_DIR))
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_load_rebuilds_from_checkpoint_alone_and_samples_deterministically(tiny_run):
    run = load_run(tiny_run)
    assert run.step == 12 and run.info.shape == (1, 8, 8)
    x, nfe = generate(run, 6, steps=4, sampler="ddim", seed=3, batch_size=6)
    assert x.shape == (6, 1, 8, 8) and torch.isfinite(x).all() and nfe == 4
    # Sample i depends on its seed, not on its batch.
    y, _ = generate(run, 6, steps=4, sampler="ddim", seed=3, batch_size=4)
    z, _ = generate(run, 2, steps=4, sampler="ddim", seed=3, batch_size=2)
    torch.testing.assert_close(x, y, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(x[:2], z, rtol=1e-5, atol=1e-5)
    w, _ = generate(run, 6, steps=4, sampler="ddim", seed=4, batch_size=6)
    assert not torch.allclose(x, w)


def test_every_basis_and_schedule_trains_and_reloads(tmp_path):
    combos = [
        ("dct", "data", "soft", "process.softness=1.0"),
        ("haar", "data", "sequential", "process.softness=2.0"),
        ("pca", "data", "soft", "process.ordering=variance"),
        ("fourier", "white", "linear", "seed=0"),
    ]
    for basis, prior, schedule, extra in combos:
        cfg = tiny_config(
            f"process.basis={basis}",
            f"process.prior={prior}",
            f"process.schedule={schedule}",
            extra,
            "train.steps=2",
            "train.checkpoint_every=2",
        )
        out = tmp_path / basis
        train_run(cfg, out, progress=False)
        run = load_run(out)
        x, _ = generate(run, 4, steps=3, sampler="dpmpp2m", seed=0)
        assert torch.isfinite(x).all(), basis
        # The fitted process state (PCA matrix, prior scale, schedule offsets) came back from the checkpoint.
        fresh = run.denoiser.process.state_dict()
        saved = weights_of(latest_checkpoint(out / CKPT_DIR), group="ema")
        for k, v in fresh.items():
            assert torch.equal(v.cpu(), saved[f"process.{k}"]), (basis, k)


def test_time_limit_stops_at_the_next_log_step_with_a_checkpoint(tmp_path):
    train_run(tiny_config("train.time_limit=1e-9", "train.steps=1000"), tmp_path, progress=False)
    assert [c.name for c in list_checkpoints(tmp_path / CKPT_DIR)] == ["step_000004"]  # log_every=4
    assert load_run(tmp_path).step == 4


def test_export_keeps_the_model_and_drops_the_optimizer(tmp_path, tiny_run):
    import subprocess
    import sys

    out = tmp_path / "slim"
    subprocess.run([sys.executable, "-m", "difflab", "export", str(tiny_run), "--out", str(out)], check=True)
    full, slim = load_run(tiny_run), load_run(out)
    assert slim.step == full.step and slim.cfg == full.cfg
    assert torch.equal(generate(full, 8, steps=4)[0], generate(slim, 8, steps=4)[0])
    assert set(load_checkpoint(latest_checkpoint(out / CKPT_DIR)).tensors) == {"ema"}
    size = lambda p: sum(f.stat().st_size for f in p.rglob("*.safetensors"))  # noqa: E731
    assert size(out) < 0.5 * size(latest_checkpoint(tiny_run / CKPT_DIR))
    again = subprocess.run(
        [sys.executable, "-m", "difflab", "export", str(tiny_run), "--out", str(out)], capture_output=True, text=True
    )
    assert again.returncode == 2 and "already holds a run" in again.stderr
