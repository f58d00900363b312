"""Config loader: round trips, overrides, and error messages that name the key."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pytest
import yaml

from difflab.config import apply_overrides, config_to_dict, dump_yaml, load_config
from difflab.errors import DifflabError


@dataclass
class Net:
    channels: int = 16
    channel_mults: tuple[int, ...] = (1, 2)
    attn_res: list[int] = field(default_factory=lambda: [4])
    dropout: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Train:
    lr: float = 2e-4
    steps: int = 100
    ema: bool = True
    out: Path | None = None

    def validate(self) -> None:
        if self.steps <= 0:
            raise DifflabError(f"train.steps must be positive, got {self.steps}")


@dataclass
class Process:
    basis: Literal["pixel", "dct", "haar"] = "pixel"
    block: tuple[int, int] = (2, 2)
    soft: float | None = None


@dataclass
class Root:
    name: str = "run"
    network: Net = field(default_factory=lambda: Net(channels=32))
    train: Train = field(default_factory=Train)
    process: Process = field(default_factory=Process)
    head: Net | None = None

    def validate(self) -> None:
        if self.process.basis == "haar" and self.network.channels < 8:
            raise ValueError("haar needs network.channels >= 8")


def test_defaults_and_round_trip():
    cfg = load_config(Root, None, ["head.channels=4", "network.extra.k=[1, 2]"])
    assert cfg.network.channels == 32  # default_factory value, not the class default
    assert cfg.head == Net(channels=4)
    again = load_config(Root, config_to_dict(cfg))
    assert again == cfg
    assert load_config(Root, yaml.safe_load(dump_yaml(cfg))) == cfg
    plain = config_to_dict(cfg)
    assert plain["network"]["channel_mults"] == [1, 2] and isinstance(plain["network"]["channel_mults"], list)


def test_yaml_file_and_overrides(tmp_path: Path):
    path = tmp_path / "c.yaml"
    path.write_text("name: digits\nnetwork:\n  channels: 8\ntrain:\n  lr: 1e-3\n  out: runs/a\n")
    cfg = load_config(
        Root,
        path,
        [
            "train.lr=3e-4",
            "network.channel_mults=[1,2,2]",
            "process.basis=dct",
            "train.ema=false",
            "process.soft=0.5",
            "process.block=[4, 8]",
        ],
    )
    assert cfg.name == "digits"
    assert cfg.network.channels == 8 and cfg.network.attn_res == [4]  # partial section keeps defaults
    assert cfg.network.channel_mults == (1, 2, 2)
    assert cfg.train.lr == pytest.approx(3e-4) and isinstance(cfg.train.lr, float)
    assert cfg.train.ema is False and cfg.train.out == Path("runs/a")
    assert cfg.process == Process(basis="dct", block=(4, 8), soft=0.5)
    assert load_config(Root, path).train.lr == pytest.approx(1e-3)  # YAML 1.1 reads 1e-3 as a string


def test_int_accepted_for_float_and_none_for_optional():
    cfg = load_config(Root, {"train": {"lr": 1}, "process": {"soft": None}})
    assert cfg.train.lr == 1.0 and isinstance(cfg.train.lr, float)
    assert cfg.process.soft is None


def test_overrides_do_not_mutate_source():
    source = {"network": {"channels": 8}}
    apply_overrides(source, ["network.channels=4"])
    assert source == {"network": {"channels": 8}}


@pytest.mark.parametrize(
    ("data", "overrides", "needles"),
    [
        ({"trian": {}}, [], ["'trian'", "did you mean 'train'"]),
        ({}, ["network.chanels=4"], ["'network.chanels'", "'network.channels'"]),
        ({}, ["train.steps=1.5"], ["'train.steps'", "int"]),
        ({}, ["train.steps=true"], ["'train.steps'", "int"]),
        ({}, ["train.lr=fast"], ["'train.lr'", "float"]),
        ({}, ["train.ema=1"], ["'train.ema'", "bool"]),
        ({}, ["name=3"], ["'name'", "string"]),
        ({}, ["process.basis=fourier"], ["'process.basis'", "'pixel'", "'dct'", "'haar'"]),
        ({}, ["network.channel_mults=[1,x]"], ["'network.channel_mults[1]'", "int"]),
        ({}, ["network.channel_mults=3"], ["'network.channel_mults'", "list"]),
        ({}, ["process.block=[1,2,3]"], ["'process.block'", "2 items"]),
        ({}, ["network.extra=5"], ["'network.extra'", "mapping"]),
        ({}, ["process.soft=abc"], ["'process.soft'", "float"]),
        ({"network": 3}, [], ["'network'", "mapping"]),
        ({}, ["train.steps=0"], ["train.steps must be positive"]),
        ({}, ["process.basis=haar", "network.channels=4"], ["haar needs network.channels"]),
        ({}, ["train.lr"], ["'train.lr'", "no '='"]),
        ({}, ["train..lr=1"], ["empty key"]),
        ({}, ["train.lr.x=1"], ["'train.lr'", "float"]),
        ({}, ["train.lr=1", "train.lr.x=1"], ["'train.lr'", "not a section"]),
        ({}, ["network.channels=[1"], ["network.channels=[1", "quote"]),
    ],
)
def test_errors_name_the_key(data, overrides, needles):
    with pytest.raises(DifflabError) as info:
        load_config(Root, data, overrides)
    message = str(info.value)
    assert "\n" not in message
    for needle in needles:
        assert needle in message


def test_missing_required_key():
    @dataclass
    class Needs:
        data_dir: str

    with pytest.raises(DifflabError, match="missing required config key 'data_dir'"):
        load_config(Needs, {})
    assert load_config(Needs, {"data_dir": "x"}).data_dir == "x"


def test_yaml_errors_name_the_file(tmp_path: Path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("train:\n  lr: [1, 2\n")
    with pytest.raises(DifflabError, match=r"YAML syntax error in .*bad\.yaml.* line"):
        load_config(Root, bad)
    scalar = tmp_path / "scalar.yaml"
    scalar.write_text("just a string\n")
    with pytest.raises(DifflabError, match=r"scalar\.yaml must contain a mapping"):
        load_config(Root, scalar)
    with pytest.raises(DifflabError, match=r"not found: .*missing\.yaml"):
        load_config(Root, tmp_path / "missing.yaml")
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    assert load_config(Root, empty) == Root()


CALLS: list[str] = []


@dataclass
class Leaf:
    x: int = 1

    def validate(self) -> None:
        CALLS.append("leaf")


@dataclass
class Top:
    leaf: Leaf = field(default_factory=Leaf)
    items: list[Leaf] = field(default_factory=list)

    def validate(self) -> None:
        CALLS.append("top")


def test_validate_runs_on_nested_sections():
    CALLS.clear()
    cfg = load_config(Top, {"items": [{"x": 2}]})
    assert cfg.items == [Leaf(2)]
    assert CALLS == ["leaf", "leaf", "top"]  # children first
    assert dataclasses.asdict(cfg) == config_to_dict(cfg)


def test_a_new_data_name_drops_the_old_datasets_options():
    from difflab.config.schema import RunConfig
    from tests.helpers import ROOT

    toy = ROOT / "configs" / "toy2d.yaml"
    cfg = load_config(RunConfig, toy, ["data.name=npy", "data.options.path=x.npy"])
    assert cfg.data.name == "npy" and cfg.data.options == {"path": "x.npy"}
    kept = load_config(RunConfig, toy, ["data.name=toy2d", "data.options.n_train=10"])  # same name: options merge
    assert kept.data.options == {"which": "8gaussians", "n_train": 10}
    assert load_config(RunConfig, toy, ["data.options.n_train=10"]).data.options["which"] == "8gaussians"
