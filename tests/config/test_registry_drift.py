"""Drift guards: every name the config accepts is a registry key, and every registry key loads.

Names are written once, in their registry; these tests fail if the config schema (or the
CLI) ever keeps a second list that disagrees.
"""

import dataclasses
import typing

import pytest

from difflab.config import load_config
from difflab.config.schema import DataConfig, MethodConfig, ProcessConfig, RunConfig, SampleConfig
from difflab.data.registry import dataset_names
from difflab.errors import DifflabError
from difflab.objectives.registry import OBJECTIVES
from difflab.process.bases.registry import BASES
from difflab.process.prior import PRIORS
from difflab.process.schedules.registry import SCHEDULES
from difflab.sampling.registry import GRIDS, SAMPLERS

# (config key, the dataclass holding it, the registry that owns its names)
KINDS = [
    ("process.basis", ProcessConfig, BASES),
    ("process.prior", ProcessConfig, PRIORS),
    ("process.schedule", ProcessConfig, SCHEDULES),
    ("method.kind", MethodConfig, OBJECTIVES),
    ("sample.sampler", SampleConfig, SAMPLERS),
    ("sample.grid", SampleConfig, GRIDS),
]


@pytest.mark.parametrize(("key", "section", "registry"), KINDS, ids=[k for k, _, _ in KINDS])
def test_config_allows_exactly_the_registered_names(key, section, registry):
    field = key.split(".")[1]
    assert typing.get_args(typing.get_type_hints(section)[field]) == tuple(registry)
    default = next(f.default for f in dataclasses.fields(section) if f.name == field)
    assert default in registry


@pytest.mark.parametrize(("key", "section", "registry"), KINDS, ids=[k for k, _, _ in KINDS])
def test_loader_accepts_every_registered_name_and_rejects_an_unknown_one(key, section, registry):
    for name in registry:
        cfg = load_config(RunConfig, None, [f"{key}={name}"])
        part, field = key.split(".")
        assert getattr(getattr(cfg, part), field) == name
    typo = next(iter(registry))[:-1] + "x"  # one letter off the first name
    with pytest.raises(DifflabError, match=rf"config key '{key}' must be one of .*; got '{typo}'; did you mean"):
        load_config(RunConfig, None, [f"{key}={typo}"])


def test_dataset_names_come_from_the_data_registry():
    assert typing.get_type_hints(DataConfig)["name"] is str  # free text, checked against the registry
    for name in dataset_names():
        assert load_config(RunConfig, None, [f"data.name={name}"]).data.name == name
    assert load_config(RunConfig, None, ["data.name=Fashion_MNIST"]).data.name == "Fashion_MNIST"  # as loading does
    with pytest.raises(DifflabError, match="unknown dataset 'digitz'; valid datasets: digits, patches"):
        load_config(RunConfig, None, ["data.name=digitz"])


def test_every_registered_sampler_grid_and_objective_resolves():
    assert all(callable(loss) for loss in OBJECTIVES.values())
    for registry in (SAMPLERS, GRIDS):
        for name in registry:
            assert callable(registry[name]), name
        with pytest.raises(DifflabError, match=f"unknown {registry.kind} 'nope'; choose one of {', '.join(registry)}"):
            registry.get_or_raise("nope")


def test_cli_help_lists_the_registered_samplers_and_grids(capsys):
    from difflab.cli.main import main

    for command in ("sample", "evaluate"):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        out = " ".join(capsys.readouterr().out.split())  # argparse wraps lines
        for name in (*SAMPLERS, *GRIDS):
            assert name in out, (command, name)
        assert "--eta" in out and "--churn" in out


def test_cli_help_does_not_import_torch():
    """The registries list names without loading their entries, so --help stays fast."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    import difflab

    env = {**os.environ, "PYTHONPATH": str(Path(difflab.__file__).parents[1])}  # this checkout's difflab
    code = "import sys; from difflab.cli.main import build_parser; build_parser(); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env).stdout
    assert out.strip() == "False"
