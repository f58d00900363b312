"""Argument helpers shared by the sub-commands."""

import argparse
from pathlib import Path

from difflab.config import dump_yaml, load_config
from difflab.config.schema import RunConfig
from difflab.errors import DifflabError


def add_config_arguments(p: argparse.ArgumentParser, *, required: bool = True) -> None:
    p.add_argument("config", nargs=None if required else "?", help="YAML config (see configs/)")
    p.add_argument("overrides", nargs="*", metavar="key=value", help="dotted overrides, e.g. train.lr=1e-3")
    p.add_argument("--dry-run", action="store_true", help="print the resolved config and exit")


def resolve_config(path: str | None, overrides: list[str]) -> RunConfig:
    if path is not None and not Path(path).is_file():
        raise DifflabError(f"config file not found: {path}")
    return load_config(RunConfig, path, overrides)


def print_config(cfg: RunConfig) -> None:
    print(dump_yaml(cfg), end="")


def int_list(text: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected positive integers, got {text!r}")
    return values


def str_list(text: str) -> list[str]:
    return [v.strip() for v in text.split(",") if v.strip()]
