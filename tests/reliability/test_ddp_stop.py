"""Under DDP (torchrun, 2 CPU processes, gloo) a SIGTERM to one rank stops every rank after the same step."""

import json
import os
import subprocess
import sys
from pathlib import Path

from difflab.io import latest_checkpoint, read_jsonl
from tests.helpers import ROOT

HERE = Path(__file__).parent


def test_sigterm_on_one_rank_stops_all_at_the_same_step(tmp_path):
    out, report = tmp_path / "run", tmp_path / "report"
    report.mkdir()
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}", "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    cmd += [str(HERE / "ddp_stop_worker.py"), str(out), str(report)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    ranks = [json.loads((report / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert ranks == [{"code": 143, "step": 3}, {"code": 143, "step": 3}]  # rank 0 got no signal itself
    assert latest_checkpoint(out / "checkpoints").name == "step_000003"
    assert [r["step"] for r in read_jsonl(out / "train_log.jsonl")] == [1, 2, 3]
