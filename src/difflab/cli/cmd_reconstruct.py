"""Reconstruct test data through a coded (DMZ/DRL) run: originals, stochastic and DDIM-inverted decodes."""

from pathlib import Path

from difflab.cli.common import add_device_argument, add_seed_argument, positive_int, run_output
from difflab.errors import DifflabError

HELP = "reconstruct: difflab reconstruct RUN --n 16 --steps 8 [--out FILE.png] (rows: data, stochastic, inverted)"


def add_arguments(p):
    p.add_argument("run", help="run directory or checkpoint folder of a coded run")
    p.add_argument("--n", type=positive_int, default=16, help="test examples to reconstruct")
    p.add_argument("--steps", type=positive_int, default=8, help="sampling (and inversion) steps")
    p.add_argument("--sampler", default="ddim", help="sampler of the stochastic decode")
    p.add_argument(
        "--mode",
        default="both",
        choices=["stochastic", "inverted", "both"],
        help="rows after the data row: stochastic decode, DDIM-inverted decode, or both (in that order)",
    )
    add_seed_argument(p)
    p.add_argument("--out", default=None, help="output .png (default: RUN/reconstruct.png)")
    add_device_argument(p)


def run(args):
    out = Path(args.out) if args.out else run_output(args.run, "reconstruct.png")
    if out.suffix != ".png":
        raise DifflabError(f"--out must end in .png, got {out.name}")
    if args.n < 1 or args.steps < 1:
        raise DifflabError("--n and --steps must be >= 1")
    import torch

    from difflab.dmz import reconstruct
    from difflab.pipeline import load_run
    from difflab.pipeline.run import load_data
    from difflab.report import save_image_grid

    loaded = load_run(args.run, device=args.device)
    x0 = load_data(loaded.cfg).test[: args.n]
    if x0.ndim != 4:
        raise DifflabError("reconstruct draws image grids; this run's data are not images")
    modes = ["stochastic", "inverted"] if args.mode == "both" else [args.mode]
    rows, report = [x0], []
    for mode in modes:
        xr = reconstruct(loaded, x0, steps=args.steps, mode=mode, sampler=args.sampler, seed=args.seed)
        rows.append(xr)
        report.append(f"{mode} MSE {float((xr - x0).pow(2).mean()):.4f}")
    out.parent.mkdir(parents=True, exist_ok=True)
    save_image_grid(torch.cat(rows).clamp(-1, 1), out, nrow=x0.shape[0])
    rows_text = ", ".join(["data", *modes])
    print(
        f"{x0.shape[0]} reconstructions ({args.steps} steps; {', '.join(report)}) written to {out} "
        f"(rows top to bottom: {rows_text})"
    )
