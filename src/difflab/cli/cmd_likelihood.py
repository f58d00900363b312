"""Bits per dimension of a run on held-out data, through the probability-flow ODE."""

from difflab.cli.common import add_device_argument, add_seed_argument, positive_int

HELP = "likelihood: difflab likelihood RUN [--n N] [--split test] (PF-ODE bits/dim, exact or Hutchinson divergence)"


def add_arguments(p):
    p.add_argument("run", help="run directory or checkpoint folder")
    p.add_argument("--n", type=positive_int, default=64, help="examples to score (the first N of the split)")
    p.add_argument("--split", choices=["test", "train"], default="test", help="which split to score")
    p.add_argument(
        "--divergence",
        choices=["auto", "exact", "hutchinson"],
        default="auto",
        help="auto: exact (D VJPs) when D <= --exact-max-dim, else Hutchinson",
    )
    p.add_argument(
        "--exact-max-dim", type=positive_int, default=256, help="largest D for the exact divergence under auto"
    )
    p.add_argument("--probes", type=positive_int, default=4, help="Rademacher probes per example (hutchinson)")
    p.add_argument("--rtol", type=float, default=1e-5, help="RK45 relative tolerance (atol = rtol)")
    p.add_argument(
        "--dequantise",
        choices=["auto", "none"],
        default="auto",
        help="auto: uniform dequantisation on the dataset's grid when it is discrete (digits: step 1)",
    )
    p.add_argument("--batch-size", type=positive_int, default=64, help="examples per ODE solve")
    add_seed_argument(p, help="seeds dequantisation and probes")
    p.add_argument("--out", default=None, help="JSON file (default: RUN/likelihood.json)")
    add_device_argument(p)


def run(args):
    from pathlib import Path

    from difflab.errors import DifflabError
    from difflab.io import atomic_write_json
    from difflab.metrics.likelihood import bits_per_dim
    from difflab.models.run import load_data, load_run
    from difflab.pipeline.evaluate import check_likelihood_supported

    if args.n < 1 or args.batch_size < 1 or args.rtol <= 0:
        raise DifflabError("--n and --batch-size must be >= 1 and --rtol > 0")
    loaded = load_run(args.run, device=args.device)
    check_likelihood_supported(loaded.cfg)
    dataset = load_data(loaded.cfg)
    data = dataset.test if args.split == "test" else dataset.train
    quantum = dataset.meta.get("quantum") if args.dequantise == "auto" else None
    result = bits_per_dim(
        loaded.denoiser,
        loaded.denoiser.process,
        data[: args.n],
        dataset.normaliser,
        quantum=quantum,
        seed=args.seed,
        batch_size=args.batch_size,
        divergence=args.divergence,
        exact_max_dim=args.exact_max_dim,
        probes=args.probes,
        rtol=args.rtol,
        atol=args.rtol,
    )
    result = {"run": str(loaded.path), "split": args.split, "rtol": args.rtol, "solver": "RK45", **result}
    out = Path(args.out) if args.out else Path(args.run) / "likelihood.json"
    atomic_write_json(out, result)
    print(
        f"{result['bits_per_dim']:.4f} ± {result['bits_per_dim_se']:.4f} bits/dim "
        f"(n={result['n']} {args.split}, {result['divergence']}, dequantisation: {result['dequantisation']}, "
        f"probe s.e. {result['probe_se']:.4f}, {result['nfe']:.0f} ODE evaluations per batch)"
    )
    if result["deterministic_dims"]:
        print(
            f"per active dimension: {result['dims']} of {result['dims'] + result['deterministic_dims']} "
            f"(process.deterministic_tol pins the rest; {result['off_support']} of {result['n']} images are off "
            "their constant value and have probability 0 there)"
        )
    print(f"written to {out}")
