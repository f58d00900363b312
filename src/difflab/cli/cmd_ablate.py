"""Causal ablation over time (Prasad et al., arXiv 2312.14965): impact map, phase plot, report."""

from pathlib import Path

from difflab.cli.common import add_device_argument, add_seed_argument, positive_int, run_output

HELP = "ablate: difflab ablate RUN --steps 50 --windows 10 --n 256 --out DIR"


def add_arguments(p):
    p.add_argument("run", help="run directory or checkpoint folder")
    p.add_argument("--steps", type=positive_int, default=50, help="DDIM steps")
    p.add_argument("--windows", type=positive_int, default=10, help="equal time windows W")
    p.add_argument("--n", type=positive_int, default=256, help="samples (fixed seeds), at least 2")
    add_seed_argument(p)
    p.add_argument(
        "--removal",
        choices=["zero", "bypass"],
        default="zero",
        help="zero: the unit's whole output is zeroed (it still runs); bypass: the unit is skipped and its "
        "residual shortcut (identity for attention, zeros for a skip) stands in",
    )
    p.add_argument(
        "--sampler",
        choices=["ddim", "ddpm"],
        default="ddim",
        help="ddim: deterministic, replayed from cached states; ddpm: ancestral, same noise in every run",
    )
    p.add_argument("--out", default=None, help="output folder (default: RUN/ablate)")
    add_device_argument(p)


def run(args):
    from difflab.analysis.ablation import impact_study
    from difflab.analysis.plots import write_impact_report
    from difflab.analysis.target import run_target
    from difflab.errors import DifflabError
    from difflab.pipeline import load_run

    if args.n < 2:
        raise DifflabError(f"--n must be at least 2 (the FD needs a covariance), got {args.n}")
    loaded = load_run(args.run, device=args.device)
    target, heldout, name = run_target(loaded)
    out = Path(args.out) if args.out else run_output(args.run, "ablate")
    print(
        f"ablating ({args.removal}) each unit in each of {args.windows} windows "
        f"({args.steps}-step {args.sampler.upper()}, n={args.n}); per unit: "
        "1-SSIM against the unablated samples per window (t high->low) and the largest FD shift"
    )
    res = impact_study(
        target,
        dataset=name,
        heldout=heldout,
        steps=args.steps,
        windows=args.windows,
        n=args.n,
        seed=args.seed,
        grid=loaded.cfg.sample.grid,  # the run's own grid (an imported model's: its scheduler's spacing)
        progress=print,
        removal=args.removal,
        sampler=args.sampler,
    )
    report = write_impact_report(res, out)
    print(
        f"impact map of {len(res.units)} units x {len(res.windows)} windows written to {report} "
        f"(+ impact.json, heatmap.png, phase.png)"
    )
