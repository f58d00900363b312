"""Extract trajectory representations of a run's (or another labelled) dataset and cache them in a folder.

Mittal et al., *From Points to Functions* (arXiv 2210.13774): features at k + 1
evenly spaced times on [0, 1] (k = 1: the single time t = 0.5).
"""

from pathlib import Path

from difflab.cli.common import add_device_argument, add_seed_argument, positive_int, run_output

HELP = "represent: difflab represent RUN --times 10 --source unet|drl|dmz --out DIR"


def add_arguments(p):
    p.add_argument("run", help="run directory or checkpoint folder")
    p.add_argument(
        "--times",
        default="10",
        help="k (k + 1 evenly spaced times on [0, 1]; 1 -> t=0.5) or comma-separated times, e.g. 0.1,0.5,0.9",
    )
    p.add_argument(
        "--source",
        default="unet",
        choices=["unet", "drl", "dmz"],
        help="unet: pooled UNet activations; drl/dmz: the run's encoder codes (dmz does not depend on t: one time)",
    )
    p.add_argument(
        "--components",
        default=None,
        help="comma-separated UNet components (unet source; default mid.res.1), e.g. mid.res.1,up.0.res.0",
    )
    p.add_argument("--pool", default="mean", help="mean | max | mean,max (spatial pooling of each component)")
    p.add_argument("--noise-std", type=float, default=0.0, help="corrupt test inputs with N(0, std²) (robustness)")
    p.add_argument("--dataset", default=None, help="labelled dataset (default: the run's own), e.g. npy")
    p.add_argument(
        "--data-option",
        action="append",
        default=[],
        metavar="key=value",
        help="dataset option, e.g. path=x.npz (repeatable)",
    )
    add_seed_argument(p, help="seed of the forward noise")
    p.add_argument("--batch-size", type=positive_int, default=256, help="examples per network call")
    add_device_argument(p)
    p.add_argument(
        "--out",
        default=None,
        help="folder for trajectories.safetensors + meta.json, reused if current "
        "(default: RUN/representations/SOURCE_kTIMES)",
    )


def parse_options(items: list[str]) -> dict:
    from difflab.errors import DifflabError

    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise DifflabError(f"--data-option takes key=value, got {item!r}")
        out[key] = value
    return out


def run(args):
    from difflab.cli.common import str_list
    from difflab.representations import parse_times, represent

    out = (
        Path(args.out)
        if args.out
        else run_output(args.run, f"representations/{args.source}_k{args.times.replace(',', '_')}")
    )
    traj = represent(
        args.run,
        times=parse_times(args.times),
        source=args.source,
        components=str_list(args.components) if args.components else None,
        pool=tuple(str_list(args.pool)),
        seed=args.seed,
        noise_std=args.noise_std,
        dataset=args.dataset,
        data_options=parse_options(args.data_option),
        out=out,
        batch_size=args.batch_size,
        device=args.device,
        progress=True,
    )
    n, k, f = traj.train.shape
    print(f"trajectories ({n} train / {traj.test.shape[0]} test, {k} times, {f} features) in {out}")
