"""Worker for test_distributed.py, launched by torchrun: trains a tiny run and
records this rank's final parameters so the test can compare replicas."""

import json
import os
import sys

from difflab.pipeline import train_run
from difflab.training import trainer as trainer_mod
from tests.helpers import tiny_config

captured = {}
real_fit = trainer_mod.Trainer.fit


def capturing_fit(self):
    captured["trainer"] = self
    return real_fit(self)


trainer_mod.Trainer.fit = capturing_fit
out, digest_dir, extra = sys.argv[1], sys.argv[2], sys.argv[3:]  # extra: key=value overrides
train_run(
    tiny_config("train.steps=6", "train.checkpoint_every=3", "train.log_every=2", "train.device=cpu", *extra),
    out,
    progress=False,
)
model = captured["trainer"].model
digest = {name: [float(p.double().sum()), float(p.double().abs().sum())] for name, p in model.state_dict().items()}
rank = os.environ["RANK"]
with open(os.path.join(digest_dir, f"rank{rank}.json"), "w") as f:
    json.dump(digest, f)
