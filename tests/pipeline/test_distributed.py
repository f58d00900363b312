"""DDP under torchrun on 2 CPU processes (gloo): replicas stay identical, only rank 0 writes."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from difflab.io import list_checkpoints
from difflab.pipeline.run import CKPT_DIR, LOG_NAME
from tests.helpers import ROOT

HERE = Path(__file__).parent


def _streamed_folder(root: Path) -> list[str]:
    """A folder of grey 8 x 8 PNGs streamed by 1 loader worker per rank, evaluated every 3 steps, best kept."""
    root.mkdir()
    rng = np.random.default_rng(0)
    for i in range(40):
        Image.fromarray(rng.integers(0, 256, (8, 8), dtype=np.uint8)).save(root / f"{i}.png")
    return [
        "data.name=folder",
        f"data.options.path={root}",
        "data.options.size=8",
        "data.options.channels=1",
        "data.stream=always",
        "data.num_workers=1",
        "train.eval_every=3",
        "train.eval_n=8",
        "train.eval_steps=2",
        "train.keep_best=true",
    ]


@pytest.mark.parametrize("streamed", [False, pytest.param(True, marks=pytest.mark.slow)])
def test_torchrun_two_cpu_processes(tmp_path, streamed):
    out, digests = tmp_path / "run", tmp_path / "digests"
    digests.mkdir()
    extra = _streamed_folder(tmp_path / "img") if streamed else []
    # The worker imports tests.helpers: the repository root goes on its path.
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}", "OMP_NUM_THREADS": "1"}
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node=2",
        str(HERE / "ddp_worker.py"),
        str(out),
        str(digests),
        *extra,
    ]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]

    rank0 = json.loads((digests / "rank0.json").read_text())
    rank1 = json.loads((digests / "rank1.json").read_text())
    assert rank0.keys() == rank1.keys()
    assert rank0 == rank1, "DDP replicas diverged"

    # Only rank 0 wrote: one config, one log with each step once, one folder per checkpoint.
    written = [".lock", "checkpoints", "config.yaml", LOG_NAME]
    if streamed:
        written += ["best", "eval_log.jsonl", "samples"]
        evals = [json.loads(line)["step"] for line in (out / "eval_log.jsonl").read_text().splitlines()]
        assert evals == [3, 6] and len(list((out / "best").iterdir())) == 1
    assert sorted(p.name for p in out.iterdir()) == sorted(written)
    steps = [json.loads(line)["step"] for line in (out / LOG_NAME).read_text().splitlines()]
    assert steps == [2, 4, 6]
    assert [p.name for p in list_checkpoints(out / CKPT_DIR)] == ["step_000003", "step_000006"]
    assert not [p for p in (out / CKPT_DIR).iterdir() if p.name.startswith(".tmp")]
