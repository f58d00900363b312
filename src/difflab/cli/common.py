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


# The largest --seed: per-sample seeds are seed * 1_000_003 + i (difflab.process.noise.derive_seed) and
# must fit a torch.Generator's 64-bit seed; 2**32 - 1 keeps a wide margin and matches NumPy's limit.
MAX_SEED = 2**32 - 1


class HelpFormatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """Every option's default in its help text (``(default: X)``), unless the text already says it or it is unset.

    Descriptions and epilogs keep their line breaks (tables of datasets, examples).
    """

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        if "default" in text or default in (None, False, argparse.SUPPRESS) or default == []:
            return text
        if isinstance(default, list):
            return text + f" (default: {','.join(str(v) for v in default)})"
        return text + " (default: %(default)s)"


def _int_at_least(text: str, minimum: int, what: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
    if value < minimum:
        raise argparse.ArgumentTypeError(f"expected {what} (>= {minimum}), got {text!r}")
    return value


def positive_int(text: str) -> int:
    """An argparse type: an integer >= 1 (``--steps 0`` is refused, never read as "the default")."""
    return _int_at_least(text, 1, "a positive integer")


def non_negative_int(text: str) -> int:
    """An argparse type: an integer >= 0 (e.g. a count of extra rounds)."""
    return _int_at_least(text, 0, "an integer >= 0")


def seed_int(text: str) -> int:
    """An argparse type: a seed in ``0 .. 2**32 - 1``."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer seed, got {text!r}") from None
    if not 0 <= value <= MAX_SEED:
        raise argparse.ArgumentTypeError(f"a seed must be in 0..{MAX_SEED}, got {text}")
    return value


def add_seed_argument(p: argparse.ArgumentParser, help: str = "base seed; sample i uses seed (SEED, i)") -> None:
    p.add_argument("--seed", type=seed_int, default=0, help=help)


def add_device_argument(p: argparse.ArgumentParser) -> None:
    """``--device``, one meaning everywhere: ``auto`` (CUDA when present, else CPU), ``cpu``, ``cuda``, ``cuda:N``."""
    p.add_argument("--device", default="auto", help="auto (CUDA when present, else CPU) | cpu | cuda | cuda:N")


def add_codes_argument(p: argparse.ArgumentParser) -> None:
    """``--codes``: where a coded (DMZ) run's z comes from when sampling (ignored by uncoded runs)."""
    p.add_argument(
        "--codes",
        default=None,
        choices=["fair", "marginal", "prior", "data"],
        help="coded runs: z from fair bits, per-bit marginals, the learned prior (`difflab fit-prior`) or codes "
        "of training data; gaussian codes: prior or data (default: the run's encoder.prior)",
    )


def apply_codes(loaded, codes: str | None) -> None:
    """Make ``codes`` the loaded run's default code source (a one-line error for an uncoded run)."""
    if codes is None:
        return
    from difflab.models.coded import require_coded

    model = require_coded(loaded.denoiser, loaded.path)
    model.sample_codes(1, source=codes)  # fails now, with its own message, if the source does not fit
    model.code_prior = codes


def run_output(run: str, name: str) -> Path:
    """Default output path ``name`` inside a run directory (a checkpoint folder's run, never the checkpoint itself)."""
    path = Path(run)
    if path.name.startswith("step_") and path.parent.name == "checkpoints":
        path = path.parent.parent
    return path / name


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


def _plain(text: str) -> str:
    """Docstring markup to plain text: ``x`` -> x, :func:`y` -> y."""
    import re

    return re.sub(r":\w+:`~?([^`]+)`", r"\1", text).replace("``", "")


def datasets_summary(verbose: bool = False) -> str:
    """Every registered dataset and its options (read from the loaders), one line each or with option help."""
    from difflab.data.registry import dataset_names, describe_dataset

    lines = []
    for name in dataset_names():
        d = describe_dataset(name)
        opts = [o["name"] + ("=REQUIRED" if o["required"] else f"={o['default']}") for o in d["options"]]
        if not verbose:
            lines.append(f"  {name:<14} {', '.join(opts) if opts else '(no options)'}")
            continue
        lines.append(f"{name}: {_plain(d['summary'])}")
        for o in d["options"]:
            default = "required" if o["required"] else f"default {o['default']}"
            lines.append(f"    data.options.{o['name']} ({default}): {_plain(o['help'])}")
        if not d["options"]:
            lines.append("    (no options)")
    return "\n".join(lines)


def check_data_options(cfg: "RunConfig") -> str:
    """Load the config's dataset, so a bad option fails now (``--dry-run``); returns a one-line summary."""
    from difflab.models.run import load_data

    data = load_data(cfg)
    labels = f", {data.num_classes} classes" if data.num_classes else ""
    return (
        f"data: {data.name}, {data.n_train} train / {data.test.shape[0]} test examples "
        f"of shape {tuple(data.shape)}{labels}"
    )


def print_config(cfg: "RunConfig") -> None:
    from difflab.config import dump_yaml

    print(dump_yaml(cfg), end="")


def int_list(text: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None
    if not values or min(values) < 1:  # e.g. `--steps 0,4`: every count must be >= 1
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
        p.add_argument("--sampler", default=None, help=f"{names} (default: the run's sample.sampler)")
    p.add_argument("--grid", default=None, help=f"{' | '.join(GRIDS)} (default: the run's sample.grid)")
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
