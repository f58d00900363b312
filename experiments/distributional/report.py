"""Tables and figures for docs/distributional.md from the few_steps.py results.

Reads ``<runs>/<dataset>/results.json`` for every dataset present, prints
markdown tables (quality vs steps, training cost per step, the issue's
targets) and copies the figures to ``docs/figures/distributional_*``, plus a
compact ``docs/figures/distributional_results.json``.

Usage::

    python experiments/distributional/report.py --runs runs/distributional
    # GPU runs (benchmarks/gpu_session.sh): figures tagged _gpu, plus the λ/β/m/kernel sweep table
    python experiments/distributional/report.py --runs runs/gpu/distributional --tag gpu --sweep runs/gpu/sweep
"""

import argparse
import json
import shutil
from pathlib import Path

STEPS = ["1", "2", "4", "8", "16", "32"]
# PCA-FD on 2-D points only compares means and covariances (a ring scores like 8 modes): use sliced W1.
METRIC = {"toy2d": "sliced_wasserstein"}


def metric_of(res: dict) -> str:
    return METRIC.get(res["dataset"], res["metric"])


def rows(res: dict, metric: str | None = None) -> list[tuple[str, dict[str, float], dict[str, int]]]:
    """(label, steps -> metric, steps -> nfe) for every curve."""
    metric, out = metric or metric_of(res), []
    for key, ev in res["evals"].items():
        for sampler, per in ev["samplers"].items():
            if key.startswith("regression"):
                label = (
                    f"regression {sampler} ({ev['train_steps']} train steps, {key.split('_', 1)[1].replace('_', ' ')})"
                )
            else:
                label = f"distributional ε={key.split('churn')[1]} ({ev['train_steps']} train steps)"
            out.append((label, {k: v[metric] for k, v in per.items()}, {k: v["nfe"] for k, v in per.items()}))
    return out


def table(res: dict, metric: str | None = None) -> str:
    metric = metric or metric_of(res)
    head = "| model / sampler | " + " | ".join(f"{k} steps" for k in STEPS) + " |\n|---|" + "---:|" * len(STEPS)
    body = [f"| {label} | " + " | ".join(f"{m[k]:.3g}" for k in STEPS) + " |" for label, m, _ in rows(res, metric)]
    floor = next(iter(res["evals"].values()))["floor"][metric]
    return "\n".join([head, *body]) + f"\n\n{metric}, lower is better; train-vs-test floor {floor:.3g}."


def targets(res: dict) -> str:
    """The issue's digits targets, evaluated on the equal-steps and equal-clock regression baselines."""
    curves = rows(res)
    dist = {label: m for label, m, _ in curves if label.startswith("distributional")}
    lines = []
    for tag in ("equal steps", "equal clock"):
        reg = {label: m for label, m, _ in curves if label.startswith("regression") and tag in label}
        best16 = min(m["16"] for m in reg.values())
        for label, m in dist.items():
            ok4 = m["4"] <= best16
            ratio = {k: min(r[k] for r in reg.values()) / m[k] for k in ("1", "2")}
            lines.append(
                f"| {tag} | {label} | {m['4']:.3g} vs {best16:.3g} ({'met' if ok4 else 'missed'}) | "
                f"{ratio['1']:.2f}× / {ratio['2']:.2f}× ({'met' if min(ratio.values()) >= 2 else 'missed'}) |"
            )
    head = (
        "| regression baseline | distributional | @4 vs best regression @16 | "
        "best regression / distributional @1 / @2 (target ≥ 2×) |\n|---|---|---|---|"
    )
    return "\n".join([head, *lines])


def cost(res: dict) -> str:
    s, b = res["seconds_per_step"], res["batch"]
    where = "CPU, 1 thread" if res.get("device", "cpu") == "cpu" else f"{res['device']}, alone on the device"
    return (
        f"seconds per training step (median, {where}): regression {s['regression']:.3f} "
        f"(batch {b['regression']}), distributional {s['distributional']:.3f} (batch {b['distributional']} × "
        f"m = {b['m']}); ratio {s['distributional'] / s['regression']:.2f}. Wall-clock of the runs: "
        f"regression {res['train_seconds']['regression']:.0f} s for {res['regression_clock_steps']} steps, "
        f"distributional {res['train_seconds']['distributional']:.0f} s for {res['steps']} steps."
    )


SWEEP_STEPS = ["1", "2", "4", "8", "16"]


def sweep(root: Path) -> str:
    """One row per run under ``root`` (evaluated with ``difflab evaluate --churn`` into eval_churn{0,1})."""
    head = (
        "| run | churn | train steps | "
        + " | ".join(f"{k} steps" for k in SWEEP_STEPS)
        + " |\n|---|---:|---:|"
        + "---:|" * len(SWEEP_STEPS)
    )
    lines = []
    for run in sorted(p for p in root.iterdir() if p.is_dir()):
        log = (run / "train_log.jsonl").read_text().splitlines()
        steps = json.loads(log[-1])["step"] if log else "?"
        for churn in ("0", "1"):
            found = sorted((run / f"eval_churn{churn}").glob("metrics*.json"))
            if not found:
                continue
            per = json.loads(found[0].read_text())["samplers"]["distributional"]
            lines.append(
                f"| {run.name} | {churn} | {steps} | "
                + " | ".join(f"{per[k]['classifier_fd']:.3g}" for k in SWEEP_STEPS)
                + " |"
            )
    return "\n".join([head, *lines])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", default="runs/distributional")
    p.add_argument("--figures", default="docs/figures")
    p.add_argument("--tag", default="", help="figure and JSON names get _TAG (e.g. gpu)")
    p.add_argument("--sweep", default=None, help="folder of sweep runs to tabulate")
    args = p.parse_args()
    tag = f"_{args.tag}" if args.tag else ""
    compact = {}
    for path in sorted(Path(args.runs).glob("*/results.json")):
        res = json.loads(path.read_text())
        name = res["dataset"]
        print(f"## {name}\n\n{cost(res)}\n\n{table(res)}\n")
        if name == "digits":
            print(targets(res) + "\n")
        for extra in ("mode_weight_tv", "mode_cov_error"):  # gmm: exact mode weights and covariances
            if extra in next(iter(res["evals"].values()))["floor"]:
                print(table(res, extra) + "\n")
        for fig in ("quality_vs_steps.png", "samples.png"):
            if (path.parent / fig).exists():
                shutil.copy(path.parent / fig, Path(args.figures) / f"distributional{tag}_{name}_{fig}")
        compact[name] = {
            "metric": metric_of(res),
            "seconds_per_step": res["seconds_per_step"],
            "batch": res["batch"],
            "curves": {label: m for label, m, _ in rows(res)},
            "nfe": {label: n for label, _, n in rows(res)},
        }
    (Path(args.figures) / f"distributional{tag}_results.json").write_text(json.dumps(compact, indent=1))
    if args.sweep:
        print(f"## sweep\n\n{sweep(Path(args.sweep))}\n")


if __name__ == "__main__":
    main()
