"""Markdown tables for docs/representations.md from run_attr.py's JSONs; copies the figures to docs/figures.

Usage: python experiments/representations/report_attr.py NAME [NAME ...] [--results runs/rep/study]
"""

import argparse
import json
import shutil
from pathlib import Path

from difflab.representations import best_single

FIGS = Path("docs/figures")


def fmt(r: dict) -> str:
    return f"{100 * r['mean']:.1f} ± {100 * r['std']:.1f}"


def table(name: str, studies: dict[str, dict]) -> str:
    attrs = list(studies)
    first = next(iter(studies.values()))
    seeds = len(first["seeds"])
    lines = [f"### {name} (n = 360 test images, {seeds} probe seeds, mean ± std, %)", ""]
    lines += ["| probe | " + " | ".join(attrs) + " |", "|---|" + "---|" * len(attrs)]
    for i, t in enumerate(first["times"]):
        kind = next(iter(first["single"]))
        row = [fmt(s["single"][kind][i]) + f" ({s['single'][kind][i]['lr']:g})" for s in studies.values()]
        lines.append(f"| {kind} at t = {t:.1f} (lr) | " + " | ".join(row) + " |")
    best = {a: best_single(s) for a, s in studies.items()}
    lines.append(
        "| **best single t (chosen on validation)** | "
        + " | ".join(f"{fmt(b)} (t = {b['t']:.1f})" for b in best.values())
        + " |"
    )
    for kind in first["mixers"]:
        row = []
        for a, s in studies.items():
            r, b = s["mixers"][kind], best[a]
            pooled = (r["std"] ** 2 + b["std"] ** 2) ** 0.5
            gap = r["mean"] - b["mean"]
            sigmas = f"{gap / pooled:+.1f}σ" if pooled > 1e-3 else "σ ≈ 0"
            row.append(f"{fmt(r)} ({100 * gap:+.1f}, {sigmas})")
        lines.append(f"| {kind} (vs best single, in pooled σ) | " + " | ".join(row) + " |")
    if all("attention" in s["mixers"] for s in studies.values()):
        lines.append("")
        for a, s in studies.items():
            w = s["mixers"]["attention"]["attention"]
            lines.append(f"Attention weight over t, {a}: " + ", ".join(f"{v:.2f}" for v in w) + ".")
    return "\n".join(lines)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("names", nargs="+")
    p.add_argument("--results", type=Path, default=Path("runs/rep/study"))
    args = p.parse_args()
    FIGS.mkdir(parents=True, exist_ok=True)
    for name in args.names:
        studies = {}
        for attr in ("digit", "background", "joint"):
            path = args.results / f"{name}_{attr}.json"
            if path.exists():
                studies[attr] = json.loads(path.read_text())
                shutil.copy(path, FIGS / f"repr_attr_{name}_{attr}.json")
        print(table(name, studies), "\n")
        for suffix in ("acc_vs_t", "attention"):
            fig = args.results / f"{name}_{suffix}.png"
            if fig.exists():
                shutil.copy(fig, FIGS / f"repr_attr_{name}_{suffix}.png")


if __name__ == "__main__":
    main()
