"""GUD design-space sweep: sample quality versus softness for several bases and priors.

For each dataset, basis (pixel, DCT, Haar, PCA) and prior (white, data), train a
small model with soft conditioning at several softness values (inf = standard
diffusion in that basis; the pixel basis has no ordering, so one run per prior),
sample with DPM-Solver++(2M) and score against the held-out split.

Usage:
    python experiments/gud_sweep/sweep.py --dataset digits --steps 800 --out runs/gud_sweep
    python experiments/gud_sweep/sweep.py --dataset patches --bases dct,haar --steps 800
Writes RUN_ROOT/<dataset>/results.json and docs/figures/gud_sweep_<dataset>.png.
"""

import argparse
import json
import math
import time
from pathlib import Path

from difflab.config import load_config
from difflab.config.schema import RunConfig
from difflab.metrics import evaluate
from difflab.pipeline import generate, load_run, train_run
from difflab.pipeline.evaluate import primary_metric
from difflab.pipeline.run import load_data

ROOT = Path(__file__).resolve().parents[2]
BASE_CONFIG = {"digits": "configs/digits.yaml", "patches": "configs/patches.yaml"}


def run_one(dataset: str, basis: str, prior: str, softness: float, args) -> dict:
    tag = f"{basis}-{prior}-s{softness}"
    out = Path(args.out) / dataset / tag
    schedule = "soft"
    overrides = [
        f"process.basis={basis}",
        f"process.prior={prior}",
        f"process.schedule={schedule}",
        f"process.softness={'.inf' if math.isinf(softness) else softness}",
        "process.gamma_max=10.0",
        f"train.steps={args.steps}",
        f"train.checkpoint_every={args.steps}",
        "train.log_every=100",
        f"network.base_channels={args.channels}",
        "network.attention_levels=[]",
    ]
    if basis == "haar":
        overrides.append("process.levels=2" if dataset == "patches" else "process.levels=1")
    cfg = load_config(RunConfig, ROOT / BASE_CONFIG[dataset], overrides)
    t0 = time.perf_counter()
    train_run(cfg, out, progress=False)
    train_s = time.perf_counter() - t0
    run = load_run(out)
    data = load_data(cfg)
    samples, _ = generate(run, args.n, steps=args.sample_steps, sampler="dpmpp2m", seed=0)
    metrics = evaluate(samples, data.test, train=data.train, dataset=dataset)
    row = {"basis": basis, "prior": prior, "softness": softness, "train_seconds": train_s, **metrics}
    print(
        json.dumps(
            {
                k: (round(v, 4) if isinstance(v, float) else v)
                for k, v in row.items()
                if k in ("basis", "prior", "softness", primary_metric(dataset), "train_seconds")
            }
        ),
        flush=True,
    )
    return row


def plot(rows: list[dict], dataset: str, path: Path) -> None:
    from matplotlib.figure import Figure

    from difflab.report import save_figure

    metric = primary_metric(dataset)
    fig = Figure(figsize=(6, 3.6))
    ax = fig.add_subplot()
    finite = sorted({r["softness"] for r in rows if math.isfinite(r["softness"])})
    inf_x = (max(finite) * 4) if finite else 1.0
    for basis, prior in sorted({(r["basis"], r["prior"]) for r in rows}):
        pts = sorted(
            (r["softness"] if math.isfinite(r["softness"]) else inf_x, r[metric])
            for r in rows
            if r["basis"] == basis and r["prior"] == prior
        )
        style = "-" if prior == "data" else "--"
        if len(pts) == 1:
            ax.axhline(pts[0][1], ls=style, lw=1, label=f"{basis} / {prior}", color="gray" if prior == "white" else "k")
        else:
            ax.plot(*zip(*pts), style, marker="o", label=f"{basis} / {prior}")
    ax.set_xscale("log")
    ax.minorticks_off()  # only the softness values tried are labelled
    ticks = finite + [inf_x]
    ax.set_xticks(ticks, [f"{s:g}" for s in finite] + ["∞"])
    ax.set(xlabel="softness (∞ = standard diffusion in that basis)", ylabel=metric, title=f"GUD sweep on {dataset}")
    ax.legend(fontsize=7, ncol=2)
    save_figure(fig, path)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dataset", choices=list(BASE_CONFIG), default="digits")
    p.add_argument("--bases", default="pixel,dct,haar,pca")
    p.add_argument("--priors", default="white,data")
    p.add_argument("--softness", default="0.3,1,inf")
    p.add_argument("--steps", type=int, default=800)
    p.add_argument("--channels", type=int, default=32)
    p.add_argument("--sample-steps", type=int, default=32)
    p.add_argument("--n", type=int, default=500)
    p.add_argument("--out", default="runs/gud_sweep")
    args = p.parse_args()
    softness = [float(s) for s in args.softness.split(",")]
    out = Path(args.out) / args.dataset
    out.mkdir(parents=True, exist_ok=True)
    results = out / "results.json"
    # Resumable: rows already in results.json (from this or an earlier call) are kept and not re-run.
    rows = json.loads(results.read_text())["rows"] if results.exists() else []
    done = {(r["basis"], r["prior"], float(r["softness"])) for r in rows}
    for basis in args.bases.split(","):
        for prior in args.priors.split(","):
            for s in [math.inf] if basis == "pixel" else softness:
                if (basis, prior, s) in done:
                    continue
                rows.append(run_one(args.dataset, basis, prior, s, args))
                results.write_text(json.dumps({"args": vars(args), "rows": rows}, indent=2, default=str))
                plot(rows, args.dataset, ROOT / "docs" / "figures" / f"gud_sweep_{args.dataset}.png")


if __name__ == "__main__":
    main()
