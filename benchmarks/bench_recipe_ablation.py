"""Ablation of the digits demo recipe: which training or sampling choice moves the classifier-FD (issue 19).

Each *training variant* changes one thing from the demo recipe (``configs/digits.yaml`` with the loss
summed over the 64 components, as difflab trained it before ``method.loss_reduction`` existed), is
trained for the same number of steps under each seed, and is scored with the classifier-FD (the shipped
digits classifier's 128-d features, ``difflab.metrics.digits_classifier.classifier_fd``) of ``--n``
samples against the held-out split, for DDIM and DPM-Solver++(2M) at each step count. *Sampling
variants* (the time grid, x̂₀ clipping) reuse the baseline models and change only how they are sampled.

The FD's own noise is measured on the first baseline model: the FD between two sample sets of that one
model (different sampling seeds, same n), and the spread of its FD to the test split over those sets.
The floor is the FD of n real training digits to the test split. Each training run also reports the
fraction of optimiser steps whose gradient norm exceeded ``train.grad_clip`` (from its ``train_log.jsonl``).

Runs are kept in ``OUT/<variant>_s<seed>`` (``OUT/quick/...`` with ``--quick``) and reused when already
trained (the trainer resumes a finished run without training), so a table can be extended seed by seed;
another ``--train-steps`` needs another ``--out``.

Usage: python benchmarks/bench_recipe_ablation.py [--quick] [--variants baseline,mean,...] [--seeds 0,1,2]
       [--train-steps 1500] [--n 500] [--steps 4,8,16,32] [--out runs/bench/recipe] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
from pathlib import Path

import torch

from difflab.config.loader import load_config
from difflab.config.schema import RunConfig
from difflab.io import atomic_write_json
from difflab.metrics import classifier_fd
from difflab.models.generate import generate
from difflab.models.run import load_data, load_run
from difflab.pipeline.run import train_run

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "configs" / "digits.yaml"
BASE = ["method.loss_reduction=sum"]  # the demo recipe as it was trained when issue 19 was filed

# name -> (overrides on top of BASE, what changes)
TRAINING = {
    "baseline": ([], "demo recipe, per-example loss summed over the 64 components, clip 1.0"),
    "mean": (["method.loss_reduction=mean"], "(a) per-example loss averaged over components (MSE)"),
    "noclip": (["train.grad_clip=0"], "(a') sum, no gradient clipping"),
    "table": (
        ["process.schedule=discrete", "process.beta_schedule=squaredcos_cap_v2"],
        "(b, c) diffusers' squaredcos_cap_v2 table (its γ range, no clamp), t still continuous",
    ),
    "clamp": (["process.gamma_min=-10.1", "process.gamma_max=19.8"], "(c) cosine clamped to the table's γ range"),
    "ema": (["train.ema_decay=0.999"], "(d) slower EMA (0.999) with the same warm-up"),
    "dnet": (["network.kind=diffusers"], "network: diffusers.UNet2DModel of the same widths"),
}
# name -> (generate keyword arguments, what changes); applied to the baseline models only
SAMPLING = {
    "leading": ({"grid": "leading"}, "(e) diffusers' leading timesteps instead of uniform t"),
    "trailing": ({"grid": "trailing"}, "(e) diffusers' trailing timesteps"),
    "clip": ({"clip_x0": 1.0}, "x̂₀ clipped to [-1, 1] (diffusers' clip_sample)"),
}
SAMPLERS = {"ddim": "DDIM", "dpmpp2m": "DPM++(2M)"}


def run_config(variant: str, seed: int, train_steps: int) -> RunConfig:
    overrides = [*BASE, *TRAINING[variant][0], f"seed={seed}", f"train.steps={train_steps}", "train.device=cpu"]
    return load_config(RunConfig, CONFIG, overrides)


def from_log(run_dir: Path) -> dict[str, float]:
    """From the run's training log: the fraction of steps whose gradient norm exceeded grad_clip (NaN if not
    logged) and the median training speed in images/s."""
    rows = [json.loads(line) for line in (run_dir / "train_log.jsonl").read_text().splitlines() if line.strip()]
    clipped = [r["clipped"] for r in rows if "clipped" in r]
    return {
        "clipped": statistics.fmean(clipped) if clipped else math.nan,
        "images_per_s": statistics.median(r["images_per_s"] for r in rows),
    }


def score(
    run, run_dir: Path, reference: torch.Tensor, n: int, steps: list[int], seeds: list[int], **options
) -> dict[str, float]:
    """Classifier-FD per ``sampler/steps``, the mean over the sampling ``seeds`` (one set of n per seed).

    Cached in the run folder (``ablation_scores.json``, keyed by every setting), so a rerun that adds
    seeds or variants samples only what is new.
    """
    cache_path = run_dir / "ablation_scores.json"
    cache = json.loads(cache_path.read_text()) if cache_path.is_file() else {}
    key = json.dumps({"step": run.step, "n": n, "steps": steps, "seeds": seeds, **options}, sort_keys=True)
    if key in cache:
        return cache[key]
    out = {}
    for sampler in SAMPLERS:
        for k in steps:
            sets = (generate(run, n, steps=k, sampler=sampler, seed=s, **options)[0] for s in seeds)
            out[f"{sampler}/{k}"] = statistics.fmean(classifier_fd(x, reference) for x in sets)
    cache[key] = out
    atomic_write_json(cache_path, cache)
    return out


def fd_noise(run, run_dir: Path, reference: torch.Tensor, n: int, k: int, sets: int) -> dict:
    """FD to test of ``sets`` sample sets of one model (DPM++(2M), k steps), and FD between pairs of them."""
    cache_path = run_dir / "ablation_noise.json"
    key = json.dumps({"step": run.step, "n": n, "k": k, "sets": sets})
    cache = json.loads(cache_path.read_text()) if cache_path.is_file() else {}
    if key not in cache:
        xs = [generate(run, n, steps=k, sampler="dpmpp2m", seed=10_000 + i)[0] for i in range(sets)]
        cache[key] = {
            "sampler": f"dpmpp2m/{k}",
            "fd_between_sets": [classifier_fd(a, b) for a, b in zip(xs[::2], xs[1::2], strict=False)],
            "fd_to_test": [classifier_fd(x, reference) for x in xs],
        }
        atomic_write_json(cache_path, cache)
    return cache[key]


def fmt(values: list[float]) -> str:
    if len(values) == 1:
        return f"{values[0]:.1f}"
    return f"{statistics.fmean(values):.1f} ± {statistics.stdev(values):.1f}"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--quick",
        action="store_true",
        help="smoke run: 30 training steps, n 64, 4 steps (numbers meaningless)",
    )
    p.add_argument("--variants", default="baseline,mean", help=f"comma list of {', '.join(TRAINING)}")
    p.add_argument("--sampling", default="", help=f"comma list of sampling variants: {', '.join(SAMPLING)}")
    p.add_argument("--seeds", default="0", help="comma list of training seeds")
    p.add_argument("--train-steps", type=int, default=1500)
    p.add_argument("--n", type=int, default=500, help="samples per FD (the test split has 359 digits)")
    p.add_argument("--steps", default="4,8,16,32", help="sampling step counts")
    p.add_argument(
        "--sample-seeds",
        default="1000,1001,1002",
        help="sampling seeds: each cell is the mean FD over one set of n samples per seed",
    )
    p.add_argument("--noise-seeds", type=int, default=8, help="sample sets for the FD-noise line (first baseline)")
    p.add_argument("--out", default=str(ROOT / "runs" / "bench" / "recipe"))
    p.add_argument("--json", default=None)
    p.add_argument("--threads", type=int, default=1, help="torch threads (1 is fastest on a shared 2-core CPU)")
    args = p.parse_args()
    if args.quick:
        args.train_steps, args.n, args.steps = min(args.train_steps, 30), min(args.n, 64), "4"
        args.sample_seeds, args.noise_seeds = args.sample_seeds.split(",")[0], 2
    torch.set_num_threads(args.threads)
    variants = [v for v in args.variants.split(",") if v]
    sampling = [v for v in args.sampling.split(",") if v]
    unknown = sorted(set(variants) - set(TRAINING)) + sorted(set(sampling) - set(SAMPLING))
    if unknown:
        p.error(f"unknown variant(s) {', '.join(unknown)}")
    seeds = [int(s) for s in args.seeds.split(",")]
    steps = [int(s) for s in args.steps.split(",")]
    sample_seeds = [int(s) for s in args.sample_seeds.split(",")]
    out = Path(args.out) / "quick" if args.quick else Path(args.out)  # another --train-steps needs another --out
    reference_cfg = run_config("baseline", 0, args.train_steps)
    data = load_data(reference_cfg)
    reference = data.test
    gen = torch.Generator().manual_seed(0)
    floor = classifier_fd(data.train[torch.randperm(data.train.shape[0], generator=gen)[: args.n]], reference)

    results: dict = {"n": args.n, "train_steps": args.train_steps, "seeds": seeds, "floor": floor, "rows": {}}
    for variant in variants:
        for seed in seeds:
            run_dir = out / f"{variant}_s{seed}"
            train_run(run_config(variant, seed, args.train_steps), run_dir, progress=False)  # a no-op when trained
            run = load_run(run_dir)
            row = from_log(run_dir)
            row |= score(run, run_dir, reference, args.n, steps, sample_seeds)
            results["rows"].setdefault(variant, []).append(row)
            print(f"{variant} seed {seed}: {json.dumps({k: round(v, 3) for k, v in row.items()})}", flush=True)
            if variant == "baseline":
                for name in sampling:
                    srow = score(run, run_dir, reference, args.n, steps, sample_seeds, **SAMPLING[name][0])
                    results["rows"].setdefault(f"baseline+{name}", []).append(srow)
                    print(f"baseline+{name} seed {seed}: {json.dumps({k: round(v, 3) for k, v in srow.items()})}")
                if seed == seeds[0]:  # the FD's own noise, on one model
                    results["noise"] = fd_noise(
                        run, run_dir, reference, args.n, steps[len(steps) // 2], args.noise_seeds
                    )

    cols = [f"{s}/{k}" for s in SAMPLERS for k in steps]
    print(
        f"\nclassifier-FD (lower is better), n = {args.n} samples vs the {reference.shape[0]} held-out digits, "
        f"{args.train_steps} training steps, training seeds {','.join(map(str, seeds))} (mean ± std over them), "
        f"each cell the mean over sampling seeds {args.sample_seeds}, "
        f"floor (n training digits) {floor:.1f}\n"
    )
    print(
        "| variant | "
        + " | ".join(f"{SAMPLERS[c.split('/')[0]]} {c.split('/')[1]}" for c in cols)
        + " | clipped | img/s |"
    )
    print("|---|" + "---:|" * (len(cols) + 2))
    for name, rows in results["rows"].items():
        cells = [fmt([r[c] for r in rows]) for c in cols]
        clipped = fmt([100 * r["clipped"] for r in rows]) + " %" if "clipped" in rows[0] else ""
        speed = f"{statistics.median(r['images_per_s'] for r in rows):.0f}" if "images_per_s" in rows[0] else ""
        print(f"| {name} | " + " | ".join(cells) + f" | {clipped} | {speed} |")
    if "noise" in results:
        nz = results["noise"]
        to_test = nz["fd_to_test"]
        print(
            f"\nFD noise ({nz['sampler']}, first baseline model, {len(to_test)} sample sets of n = {args.n}): "
            f"FD to test {fmt(to_test)} (range {min(to_test):.1f}–{max(to_test):.1f}); "
            f"FD between two sets of the one model {fmt(nz['fd_between_sets'])}. A cell averages "
            f"{len(sample_seeds)} sets, so its sampling noise is about std/√{len(sample_seeds)}."
        )
    print("\nvariants: " + "; ".join(f"{v}: {TRAINING[v][1]}" for v in variants))
    if sampling:
        print("sampling: " + "; ".join(f"{v}: {SAMPLING[v][1]}" for v in sampling))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
