"""Argument helpers shared by the sub-commands."""

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from difflab.errors import DifflabError
from difflab.sampling.registry import GRIDS, SAMPLERS

if TYPE_CHECKING:
    from difflab.config.schema import RunConfig

# Flags of sampler options, shared by `sample` and `evaluate` (`--s-churn` sets option s_churn). Which
# sampler owns a flag is read from the samplers' keyword-only parameters
# (difflab.sampling.registry.option_owners). Flags take a float unless listed in SAMPLER_FLAG_CHOICES.
SAMPLER_FLAGS = {
    "eta": "ddim: the DDIM paper's η in [0, 1], noise = η × posterior std (default: the run's sample.eta)",
    "churn": "distributional: the scoring-rule paper's churn ε in [0, 1] (default: the run's sample.churn)",
    "variance": "ddpm: fixed_small (posterior variance) or fixed_large (β_t, Ho et al.)",
    "heun_form": "heun: exponential (default; stable at few steps) or edm (Karras et al.'s trapezoid in σ)",
    "s_churn": "heun: EDM S_churn >= 0 (stochastic Heun, Karras et al. Algorithm 2)",
    "s_tmin": "heun: EDM S_tmin, churn only where σ/α >= this",
    "s_tmax": "heun: EDM S_tmax, churn only where σ/α <= this",
    "s_noise": "heun: EDM S_noise, scale of the churn noise",
}
SAMPLER_FLAG_CHOICES = {"variance": ("fixed_small", "fixed_large"), "heun_form": ("exponential", "edm")}


def add_config_arguments(p: argparse.ArgumentParser, *, required: bool = True) -> None:
    p.add_argument("config", nargs=None if required else "?", help="YAML config (see configs/)")
    p.add_argument("overrides", nargs="*", metavar="key=value", help="dotted overrides, e.g. train.lr=1e-3")
    p.add_argument("--dry-run", action="store_true", help="print the resolved config and exit")


def resolve_config(path: str | None, overrides: list[str]) -> "RunConfig":
    # Imported here: the config schema imports the registries' parts (torch), and --help should not.
    from difflab.config import load_config
    from difflab.config.schema import RunConfig

    if path is not None and not Path(path).is_file():
        raise DifflabError(f"config file not found: {path}")
    return load_config(RunConfig, path, overrides)


def print_config(cfg: "RunConfig") -> None:
    from difflab.config import dump_yaml

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


def add_sampler_arguments(p: argparse.ArgumentParser, *, several: bool = False) -> None:
    """``--sampler`` (one, or comma-separated when ``several``), ``--grid`` and the sampler option flags."""
    names = " | ".join(SAMPLERS)
    if several:
        p.add_argument("--sampler", type=str_list, default=None, help=f"one or more, comma-separated: {names}")
    else:
        p.add_argument("--sampler", default=None, help=names)
    p.add_argument("--grid", default=None, help=" | ".join(GRIDS))
    for flag, text in SAMPLER_FLAGS.items():
        kind = {"choices": SAMPLER_FLAG_CHOICES[flag]} if flag in SAMPLER_FLAG_CHOICES else {"type": float}
        p.add_argument(f"--{flag.replace('_', '-')}", dest=flag, default=None, help=text, **kind)


def float_pair(text: str) -> tuple[float, float]:
    try:
        lo, hi = (float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected T_LO,T_HI (two numbers), got {text!r}") from None
    return lo, hi


def add_generation_arguments(p: argparse.ArgumentParser) -> None:
    """Flags ``generate`` takes beyond the sampler's own: guidance and x̂₀ post-processing (``sample``, ``evaluate``)."""
    p.add_argument(
        "--guidance",
        type=float,
        default=None,
        metavar="W",
        help="classifier-free guidance: 1 = conditional, 0 = unconditional, >1 stronger (needs label_dropout > 0)",
    )
    p.add_argument(
        "--clip-x0",
        type=float,
        default=None,
        metavar="R",
        help="clamp every x̂₀ to [-R, R] (diffusers clip_sample; default: the run's sample.clip_x0; inf = off)",
    )
    p.add_argument(
        "--dynamic-threshold",
        type=float,
        default=None,
        metavar="P",
        help="Imagen dynamic thresholding of x̂₀ at percentile ratio P, e.g. 0.995 (default: sample.dynamic_threshold)",
    )
    p.add_argument(
        "--guidance-interval",
        type=float_pair,
        default=None,
        metavar="T_LO,T_HI",
        help="guide only for diffusion times in [T_LO, T_HI] (default: all)",
    )


def generation_options(args) -> dict:
    """``generate`` keyword arguments from the flags of :func:`add_generation_arguments`."""
    return {
        "guidance": args.guidance,
        "guidance_interval": args.guidance_interval,
        "clip_x0": args.clip_x0,
        "dynamic_threshold": args.dynamic_threshold,
    }


def sampler_options(args, samplers: list[str], defaults=None) -> dict[str, dict]:
    """Per-sampler options from the flags, each routed to the sampler whose signature takes it.

    Args:
        args: parsed arguments with one attribute per :data:`SAMPLER_FLAGS` entry (``None``: not given).
        samplers: the samplers that will run.
        defaults: the run's ``sample`` config section; its value of an option fills in a flag that
            was not given, for a sampler that takes the option.

    Raises:
        DifflabError: for a flag given for a sampler that is not among ``samplers``.
    """
    from difflab.sampling.registry import get_sampler, option_owners  # resolves samplers (torch)

    for name in samplers:
        get_sampler(name)  # an unknown name fails here, listing the registered ones
    owners = option_owners()
    opts: dict[str, dict] = {s: (defaults.options_for(s) if defaults is not None else {}) for s in samplers}
    for flag in SAMPLER_FLAGS:
        value = getattr(args, flag, None)  # a command may declare only some of the flags
        if value is None:
            continue
        owner = owners[flag]
        if owner not in samplers:
            raise DifflabError(
                f"--{flag.replace('_', '-')} applies to the {owner} sampler, which is not among {samplers}"
            )
        opts[owner][flag] = value
    return opts
