"""A tiny digits run shared by the pipeline tests (trained once per session)."""

from pathlib import Path

import pytest

from tests.helpers import tiny_config


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory) -> Path:
    from difflab.pipeline import train_run

    out = tmp_path_factory.mktemp("tiny_run")
    train_run(tiny_config(), out, progress=False)
    return out
