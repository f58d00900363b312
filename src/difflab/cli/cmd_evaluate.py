"""Quality versus steps against the held-out split: metrics JSON + plot."""

from pathlib import Path

from difflab.cli.common import (
    add_codes_argument,
    add_device_argument,
    add_generation_arguments,
    add_sampler_arguments,
    add_seed_argument,
    apply_codes,
    generation_options,
    int_list,
    positive_int,
    run_output,
    sampler_options,
)

HELP = "evaluate: difflab evaluate RUN --steps 4,8,16,32 --sampler NAME"


def add_arguments(p):
    p.add_argument("run", help="run directory or checkpoint folder")
    p.add_argument("--steps", type=int_list, default=[4, 8, 16, 32], help="comma-separated step counts")
    add_sampler_arguments(p, several=True)  # --sampler, --grid and the sampler option flags
    add_generation_arguments(p)  # --guidance (random labels), --clip-x0, --dynamic-threshold
    p.add_argument(
        "--n", type=positive_int, default=None, help="samples per setting (default: the run's sample.n_eval)"
    )
    add_seed_argument(p)
    p.add_argument("--out", default=None, help="output folder (default: RUN/eval)")
    add_codes_argument(p)
    add_device_argument(p)
    p.add_argument(
        "--bpd",
        type=int,
        default=0,
        metavar="N",
        help="also PF-ODE bits/dim of the first N test examples (slow: see `difflab likelihood`); 0 = off",
    )
    p.add_argument("--shortcuts", default=None, metavar="FILE", help="shortcut schedule JSON from `difflab shortcuts`")


def run(args):
    from difflab.analysis.shortcuts import shortcut_denoiser
    from difflab.pipeline import evaluate_run, load_run
    from difflab.pipeline.evaluate import primary_metric

    loaded = load_run(args.run, device=args.device)
    apply_codes(loaded, args.codes)
    samplers = args.sampler or [loaded.cfg.sample.sampler]
    out = Path(args.out) if args.out else run_output(args.run, "eval")
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
            bpd_n=args.bpd,
            generate_options=generation_options(args),
        )
    metric = primary_metric(results["dataset"])

    def fmt(value) -> str:
        return "refused" if value is None else f"{value:.3f}"

    codes = f"; z from --codes {args.codes}" if args.codes else ""
    print(f"checkpoint step {loaded.step} ({loaded.path}), n={results['n']} per setting{codes}")
    print(f"{metric} (floor {fmt(results['floor'][metric])}):")
    for sampler, per in results["samplers"].items():
        print(f"  {sampler:>14}: " + "  ".join(f"{k} steps {fmt(v[metric])}" for k, v in per.items()))
    for name, reason in results["refused"].items():
        print(f"  refused: {name}: {reason}")
    if "bits_per_dim" in results:
        b = results["bits_per_dim"]
        print(f"bits/dim (n={b['n']} test, {b['divergence']}): {b['bits_per_dim']:.4f} ± {b['bits_per_dim_se']:.4f}")
    print(f"written to {out}/metrics.json and {out}/quality_vs_steps.png")
