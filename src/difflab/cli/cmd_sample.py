"""Draw samples from a trained run; .npy keeps the data's shape and value range, .png is a grid."""

from pathlib import Path

from difflab.cli.common import (
    add_device_argument,
    add_sampler_arguments,
    add_seed_argument,
    positive_int,
    run_output,
    sampler_options,
)
from difflab.errors import DifflabError

HELP = "sample: difflab sample RUN --n N --steps K --sampler NAME --seed S [--out FILE]"


def add_arguments(p):
    p.add_argument("run", help="run directory or checkpoint folder")
    p.add_argument("--n", type=positive_int, default=64, help="number of samples")
    p.add_argument("--steps", type=positive_int, default=None, help="number of steps (default: the run's sample.steps)")
    add_sampler_arguments(p)  # --sampler, --grid and the sampler option flags (--eta, --churn)
    add_seed_argument(p)
    p.add_argument("--out", default=None, help="output .npy (data units) or .png (default: RUN/samples.png)")
    add_device_argument(p)
    p.add_argument(
        "--shortcuts",
        default=None,
        metavar="FILE",
        help="shortcut schedule JSON from `difflab shortcuts` (reuse cached blocks to sample faster)",
    )


def run(args):
    out = Path(args.out) if args.out else run_output(args.run, "samples.png")
    if out.suffix not in (".npy", ".png"):
        raise DifflabError(f"--out must end in .npy or .png, got {out.name}")
    import numpy as np
    import torch

    from difflab.analysis.shortcuts import shortcut_denoiser
    from difflab.io import atomic_open
    from difflab.pipeline import generate, load_run
    from difflab.report import save_samples_picture

    loaded = load_run(args.run, device=args.device)
    sampler = args.sampler or loaded.cfg.sample.sampler
    steps = args.steps if args.steps is not None else loaded.cfg.sample.steps
    with shortcut_denoiser(loaded.denoiser, args.shortcuts) as denoiser:
        options = sampler_options(args, [sampler], loaded.cfg.sample)[sampler]
        samples, nfe = generate(
            loaded,
            args.n,
            steps=steps,
            sampler=sampler,
            seed=args.seed,
            denoiser=denoiser,
            grid=args.grid or loaded.cfg.sample.grid,
            sampler_options=options,
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix == ".npy":
        data = loaded.normaliser.decode(samples)
        data = data.numpy() if isinstance(data, torch.Tensor) else data
        with atomic_open(out, "wb") as f:
            np.save(f, data.astype(np.float32))
    elif save_samples_picture(samples, out, n=args.n, normaliser=loaded.normaliser) is None:
        raise DifflabError("a .png needs image or 2-D data; write .npy instead")
    print(
        f"{args.n} samples ({sampler}, {steps} steps, {nfe} network calls each batch; checkpoint step "
        f"{loaded.step}: {loaded.path}) written to {out}"
    )
