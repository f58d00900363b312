"""A tiny trained digits UNet shared by the representation tests (a few seconds to train)."""

import pytest

from difflab.config import load_config
from difflab.config.schema import RunConfig
from difflab.pipeline import load_run, train_run


@pytest.fixture(scope="session")
def tiny_run_dir(tmp_path_factory):
    cfg = load_config(
        RunConfig,
        "configs/digits.yaml",
        [
            "train.steps=4",
            "train.batch_size=32",
            "network.base_channels=8",
            "network.attention_levels=[]",
            "train.checkpoint_every=4",
            "train.log_every=4",
        ],
    )
    return train_run(cfg, tmp_path_factory.mktemp("tiny_run"), progress=False)


@pytest.fixture(scope="session")
def tiny_run(tiny_run_dir):
    return load_run(tiny_run_dir)
