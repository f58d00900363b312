"""Quality versus steps against the held-out split: metrics JSON + plot."""

from pathlib import Path

from difflab.cli.common import (
    add_generation_arguments,
    add_sampler_arguments,
    generation_options,
    int_list,
    sampler_options,
)

HELP = "evaluate: difflab evaluate RUN --steps 4,8,16,32 --sampler NAME"


def add_arguments(p):
    p.add_argument("run", help="run directory or checkpoint folder")
    p.add_argument("--steps", type=int_list, default=[4, 8, 16, 32])
    add_sampler_arguments(p, several=True)  # --sampler, --grid and the sampler option flags
    add_generation_arguments(p)  # --guidance (random labels), --clip-x0, --dynamic-threshold
    p.add_argument("--n", type=int, default=None, help="samples per setting (default: sample.n_eval)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=None, help="output folder (default: RUN/eval)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--shortcuts", default=None, metavar="FILE", help="shortcut schedule JSON from `difflab shortcuts`")


def run(args):
    from difflab.analysis.shortcuts import shortcut_denoiser
    from difflab.pipeline import evaluate_run, load_run
    from difflab.pipeline.evaluate import primary_metric

    loaded = load_run(args.run, device=args.device)
    samplers = args.sampler or [loaded.cfg.sample.sampler]
    out = Path(args.out) if args.out else Path(args.run) / "eval"
    with shortcut_denoiser(loaded.denoiser, args.shortcuts) as denoiser:
        results = evaluate_run(
            loaded,
            steps=args.steps,
            samplers=samplers,
            out_dir=out,
            n=args.n,
            seed=args.seed,
            grid=args.grid,
            sampler_options=sampler_options(args, samplers, loaded.cfg.sample),
            denoiser=denoiser,
            generate_options=generation_options(args),
        )
    metric = primary_metric(results["dataset"])
    print(f"{metric} (floor {results['floor'][metric]:.3f}):")
    for sampler, per in results["samplers"].items():
        print(f"  {sampler:>14}: " + "  ".join(f"{k} steps {v[metric]:.3f}" for k, v in per.items()))
    print(f"written to {out}/metrics.json and {out}/quality_vs_steps.png")
