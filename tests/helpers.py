"""Helpers shared across the test packages: the repository root and a tiny digits config."""

import os
import signal
from pathlib import Path

import pytest
import torch

from difflab.config import load_config
from difflab.config.schema import RunConfig
from difflab.errors import Interrupted
from difflab.io import load_checkpoint
from difflab.pipeline import train_run
from difflab.utils.faults import set_fault_hook

ROOT = Path(__file__).resolve().parents[1]
TINY = [
    "train.steps=12",
    "train.batch_size=32",
    "train.log_every=4",
    "train.checkpoint_every=6",
    "network.base_channels=16",
    "network.attention_levels=[]",
    "sample.n_eval=64",
    "sample.batch_size=64",
]


def tiny_config(*overrides: str) -> RunConfig:
    return load_config(RunConfig, ROOT / "configs" / "digits.yaml", [*TINY, *overrides])


def weights_of(ckpt: Path, group: str = "model") -> dict[str, torch.Tensor]:
    return load_checkpoint(ckpt).tensors[group]


def interrupt_training(cfg: RunConfig, run_dir: Path, stop_after: int) -> None:
    """Train ``cfg`` into ``run_dir`` with one Ctrl-C during step ``stop_after``; the run stops after that step.

    The signal is sent once (a second Ctrl-C would stop mid-step, unsaved; with gradient accumulation
    the fault point is reached once per micro-batch).
    """
    sent = []

    def sigint(name, info):
        if name == "step:after_backward" and info["trainer"].step == stop_after - 1 and not sent:
            sent.append(os.kill(os.getpid(), signal.SIGINT))

    previous = set_fault_hook(sigint)
    try:
        with pytest.raises(Interrupted):
            train_run(cfg, run_dir, progress=False)
    finally:
        set_fault_hook(previous)
