"""Interpolation strips of a coded (DMZ) run: soft-code lines or bit-flip paths between test pairs."""

from pathlib import Path

from difflab.cli.common import add_device_argument, add_seed_argument, positive_int, run_output
from difflab.errors import DifflabError

HELP = "interpolate: difflab interpolate RUN [--out FILE.png] [--kind soft|bitflip] [--pairs 4 --frames 8 --steps 16]"


def add_arguments(p):
    p.add_argument("run", help="run directory or checkpoint folder of a coded run")
    p.add_argument(
        "--kind",
        default="soft",
        choices=["soft", "bitflip"],
        help="soft-code lines or bit-flip paths",
    )
    p.add_argument("--pairs", type=positive_int, default=4, help="test pairs (one strip, one row, each)")
    p.add_argument("--frames", type=positive_int, default=8, help="frames per soft strip")
    p.add_argument("--steps", type=positive_int, default=16, help="sampling steps per frame")
    add_seed_argument(p)
    p.add_argument("--out", default=None, help="output .png (default: RUN/interpolate_KIND.png)")
    add_device_argument(p)


def run(args):
    out = Path(args.out) if args.out else run_output(args.run, f"interpolate_{args.kind}.png")
    if out.suffix != ".png":
        raise DifflabError(f"--out must end in .png, got {out.name}")
    if min(args.pairs, args.frames, args.steps) < 1:
        raise DifflabError("--pairs, --frames and --steps must be >= 1")
    import torch

    from difflab.dmz import interpolate
    from difflab.pipeline import load_run
    from difflab.pipeline.run import load_data
    from difflab.report import save_image_grid

    loaded = load_run(args.run, device=args.device)
    test = load_data(loaded.cfg).test
    if test.ndim != 4 or test.shape[0] < 2 * args.pairs:
        raise DifflabError("interpolate needs image data with at least 2 * --pairs test examples")
    strips = [
        interpolate(
            loaded, test[2 * i], test[2 * i + 1], frames=args.frames, steps=args.steps, kind=args.kind, seed=args.seed
        )
        for i in range(args.pairs)
    ]
    width = max(s.shape[0] for s in strips)
    # Bit-flip paths differ in length: pad each strip with its last frame to one width.
    rows = [torch.cat([s, s[-1:].expand(width - s.shape[0], *s.shape[1:])]) for s in strips]
    out.parent.mkdir(parents=True, exist_ok=True)
    save_image_grid(torch.cat(rows).clamp(-1, 1), out, nrow=width)
    print(
        f"{args.pairs} {args.kind} strips ({width} frames, {args.steps} steps) written to {out} "
        "(one row per test pair, left to right from the first example to the second)"
    )
