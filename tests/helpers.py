"""Helpers shared across the test packages: the repository root and a tiny digits config."""

from pathlib import Path

import torch

from difflab.config import load_config
from difflab.config.schema import RunConfig
from difflab.io import load_checkpoint

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
