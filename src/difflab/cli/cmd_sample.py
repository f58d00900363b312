"""Draw samples from a trained run; .npy keeps the data's shape and value range, .png is a grid, DIR/ numbered PNGs."""

import argparse
import os
import sys
from pathlib import Path

from difflab.cli.common import (
    add_codes_argument,
    add_device_argument,
    add_generation_arguments,
    add_sampler_arguments,
    add_seed_argument,
    apply_codes,
    generation_options,
    positive_int,
    run_output,
    sampler_options,
)
from difflab.errors import DifflabError


def label_list(text: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integer class ids, got {text!r}") from None
    if not values:
        raise argparse.ArgumentTypeError("expected at least one class id")
    return values


HELP = "sample: difflab sample RUN --n N --steps K --sampler NAME --seed S [--labels L --guidance W] [--out FILE]"


def add_arguments(p):
    p.add_argument("run", help="run directory or checkpoint folder")
    p.add_argument(
        "--n", type=positive_int, default=None, help="number of samples (default: one per --labels entry, else 64)"
    )
    p.add_argument("--steps", type=positive_int, default=None, help="number of steps (default: the run's sample.steps)")
    add_sampler_arguments(p)  # --sampler, --grid and the sampler option flags (--eta, --churn)
    add_seed_argument(p)
    p.add_argument(
        "--labels",
        type=label_list,
        default=None,
        help="class ids, comma-separated, one per sample (or one for all) for a class-conditional run",
    )
    add_generation_arguments(p)  # --guidance, --guidance-interval, --clip-x0, --dynamic-threshold
    p.add_argument(
        "--out",
        default=None,
        help="output .npy (data units), .png (a grid), or a new folder DIR/ (ends in /): numbered PNGs 000000.png … "
        "in the data's range, for torch-fidelity / clean-fid (default: RUN/samples.png)",
    )
    add_codes_argument(p)
    add_device_argument(p)
    p.add_argument(
        "--shortcuts",
        default=None,
        metavar="FILE",
        help="shortcut schedule JSON from `difflab shortcuts` (reuse cached blocks to sample faster)",
    )


def run(args):
    out = Path(args.out) if args.out else run_output(args.run, "samples.png")
    as_folder = bool(args.out) and (args.out.endswith(("/", os.sep)) or out.is_dir())
    if as_folder and out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise DifflabError(f"{out} already exists and is not an empty folder; give a new folder for the numbered PNGs")
    if not as_folder and out.suffix not in (".npy", ".png"):
        raise DifflabError(f"--out must end in .npy or .png, or be a folder ending in / (numbered PNGs): {out.name}")
    import numpy as np
    import torch

    from difflab.analysis.shortcuts import shortcut_denoiser
    from difflab.io import atomic_open
    from difflab.models.range_check import range_warning
    from difflab.pipeline import generate, load_run
    from difflab.report import save_image_folder, save_samples_picture

    loaded = load_run(args.run, device=args.device)
    apply_codes(loaded, args.codes)
    sampler = args.sampler or loaded.cfg.sample.sampler
    steps = args.steps if args.steps is not None else loaded.cfg.sample.steps
    n = args.n if args.n is not None else (len(args.labels) if args.labels else 64)
    cond = None
    if args.labels is not None:
        labels = args.labels * n if len(args.labels) == 1 else args.labels
        if len(labels) != n:
            raise DifflabError(f"--labels has {len(args.labels)} entries but --n is {n}; give one per sample or one")
        cond = {"labels": torch.tensor(labels)}
    elif loaded.cfg.network.class_conditional:
        print("no --labels: this class-conditional run samples a uniform random class per sample (seeded)")
    with shortcut_denoiser(loaded.denoiser, args.shortcuts) as denoiser:
        options = sampler_options(args, [sampler], loaded.cfg.sample)[sampler]
        samples, nfe = generate(
            loaded,
            n,
            steps=steps,
            sampler=sampler,
            seed=args.seed,
            denoiser=denoiser,
            grid=args.grid or loaded.cfg.sample.grid,
            sampler_options=options,
            cond=cond,
            **generation_options(args),
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    where = str(out)
    if as_folder:
        paths = save_image_folder(samples, out, normaliser=loaded.normaliser)
        where = f"{out}/ ({paths[0].name} … {paths[-1].name})"
    elif out.suffix == ".npy":
        data = loaded.normaliser.decode(samples)
        data = data.numpy() if isinstance(data, torch.Tensor) else data
        with atomic_open(out, "wb") as f:
            np.save(f, data.astype(np.float32))
    elif save_samples_picture(samples, out, n=n, normaliser=loaded.normaliser) is None:
        raise DifflabError("a .png needs image or 2-D data; write .npy instead")
    print(
        f"{n} samples ({sampler}, {steps} steps, {nfe} network calls each batch; checkpoint step "
        f"{loaded.step}: {loaded.path}) written to {where}"
    )
    warning = range_warning(samples, loaded.normaliser)
    if warning:
        print(warning, file=sys.stderr)
