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
    p.add_argument(
        "--fid",
        action="store_true",
        help="also Inception FID and KID against the whole test split (pip install 'difflab[fid]'; no download)",
    )
    p.add_argument(
        "--inception-weights",
        default=None,
        metavar="PATH",
        help="torch-fidelity's weights-inception-2015-12-05-6726825d.pth for --fid "
        "(default: $DIFFLAB_INCEPTION_WEIGHTS, else torch-fidelity's cache in the torch hub folder)",
    )
    p.add_argument(
        "--fid-cache",
        default=None,
        metavar="DIR",
        help="folder of cached reference features for --fid (default: $DIFFLAB_CACHE_DIR/fid or ~/.cache/difflab/fid)",
    )


def run(args):
    from difflab.analysis.shortcuts import shortcut_denoiser
    from difflab.metrics.fid import inception_extractor
    from difflab.pipeline import evaluate_run, load_run
    from difflab.utils.device import pick_device

    # Set up the feature network first: a missing extra or weights file fails before any sampling.
    extractor = inception_extractor(args.inception_weights, device=pick_device(args.device)) if args.fid else None
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
            fid=extractor,
            fid_cache=args.fid_cache,
        )
    metric = results["metric"]

    def fmt(value) -> str:
        return "refused" if value is None else f"{value:.3f}"

    codes = f"; z from --codes {args.codes}" if args.codes else ""
    print(f"checkpoint step {loaded.step} ({loaded.path}), n={results['n']} per setting{codes}")
    print(f"{metric} (n={results['n']}, features: {results['features']}; floor {fmt(results['floor'][metric])}):")
    for sampler, per in results["samplers"].items():
        print(f"  {sampler:>14}: " + "  ".join(f"{k} steps {fmt(v[metric])}" for k, v in per.items()))
    if "fid" in results:
        std = results["fid"]
        source = "cached" if std["cached"] else "computed and cached"
        floor = results["floor"]
        print(
            f"fid / kid (n={results['n']}, features: {std['features']}, reference {std['reference']} "
            f"n={std['reference_n']} ({source}); floor {fmt(floor['fid'])} / {floor['kid']:.4f}):"
        )
        for sampler, per in results["samplers"].items():
            cells = "  ".join(f"{k} steps {fmt(v['fid'])} / {v['kid']:.4f}" for k, v in per.items())
            print(f"  {sampler:>14}: {cells}")
    for name, reason in results["refused"].items():
        print(f"  refused: {name}: {reason}")
    if "bits_per_dim" in results:
        b = results["bits_per_dim"]
        print(f"bits/dim (n={b['n']} test, {b['divergence']}): {b['bits_per_dim']:.4f} ± {b['bits_per_dim_se']:.4f}")
    print(f"written to {out}/metrics.json and {out}/quality_vs_steps.png")
