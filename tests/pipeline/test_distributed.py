"""DDP under torchrun on 2 CPU processes (gloo): replicas stay identical, only rank 0 writes."""

import json
import os
import subprocess
import sys
from pathlib import Path

from difflab.io import list_checkpoints
from difflab.pipeline.run import CKPT_DIR, LOG_NAME
from tests.helpers import ROOT

HERE = Path(__file__).parent


def test_torchrun_two_cpu_processes(tmp_path):
    out, digests = tmp_path / "run", tmp_path / "digests"
    digests.mkdir()
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
    ]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]

    rank0 = json.loads((digests / "rank0.json").read_text())
    rank1 = json.loads((digests / "rank1.json").read_text())
    assert rank0.keys() == rank1.keys()
    assert rank0 == rank1, "DDP replicas diverged"

    # Only rank 0 wrote: one config, one log with each step once, one folder per checkpoint.
    assert sorted(p.name for p in out.iterdir()) == [".lock", "checkpoints", "config.yaml", LOG_NAME]
    steps = [json.loads(line)["step"] for line in (out / LOG_NAME).read_text().splitlines()]
    assert steps == [2, 4, 6]
    assert [p.name for p in list_checkpoints(out / CKPT_DIR)] == ["step_000003", "step_000006"]
    assert not [p for p in (out / CKPT_DIR).iterdir() if p.name.startswith(".tmp")]
