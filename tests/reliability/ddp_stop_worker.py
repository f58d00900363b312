"""Worker for test_ddp_stop.py, launched by torchrun: rank 1 alone gets SIGTERM in step 3;
every rank must stop after that step. Writes this rank's exit code and final step."""

import json
import os
import signal
import sys

from difflab.errors import Interrupted
from difflab.pipeline import train_run
from difflab.training import trainer as trainer_mod
from difflab.utils.faults import set_fault_hook
from tests.helpers import tiny_config

out, report = sys.argv[1], sys.argv[2]
rank = int(os.environ["RANK"])
captured = {}
real_fit = trainer_mod.Trainer.fit


def capturing_fit(self):
    captured["trainer"] = self
    return real_fit(self)


def hook(name, info):
    if rank == 1 and name == "step:after_backward" and info["trainer"].step == 2:
        os.kill(os.getpid(), signal.SIGTERM)


trainer_mod.Trainer.fit = capturing_fit
set_fault_hook(hook)
code = 0
try:
    train_run(
        tiny_config("train.steps=8", "train.checkpoint_every=4", "train.log_every=1", "train.device=cpu"),
        out,
        progress=False,
    )
except Interrupted as exc:
    code = exc.exit_code
with open(os.path.join(report, f"rank{rank}.json"), "w") as f:
    json.dump({"code": code, "step": captured["trainer"].step}, f)
sys.exit(0)  # torchrun tears the job down on a non-zero exit; the report carries the code
