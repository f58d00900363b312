"""Tables and figures for docs/representations.md from runs/representations/results/*.json.

Usage: python experiments/representations/report.py [--results DIR] [--tag T]
(prints markdown; copies figures to docs/figures/repr[_T]_*)
"""

import argparse
import json
import shutil
from pathlib import Path

from difflab.representations import best_single

RESULTS, FIGS = Path("runs/representations/results"), Path("docs/figures")


def fmt(r: dict) -> str:
    return f"{100 * r['mean']:.2f} ± {100 * r['std']:.2f}"


def study_table(name: str, res: dict) -> str:
    kinds = list(res["single"])
    lines = [f"### {name}", "", "| t | " + " | ".join(kinds) + " |", "|---|" + "---|" * len(kinds)]
    for i, t in enumerate(res["times"]):
        lines.append(f"| {t:.1f} | " + " | ".join(fmt(res["single"][k][i]) for k in kinds) + " |")
    best = best_single(res) or {"kind": "none measured", "t": float("nan"), "mean": float("nan"), "std": float("nan")}
    lines += [
        "",
        "| mixer | accuracy (%) | margin over best single / its std | margin / pooled std |",
        "|---|---|---|---|",
    ]
    for kind, r in res["mixers"].items():
        margin = r["mean"] - best["mean"]
        pooled = (best["std"] ** 2 + r["std"] ** 2) ** 0.5
        lines.append(
            f"| {kind} | {fmt(r)} | {margin / max(best['std'], 1e-9):+.1f} | {margin / max(pooled, 1e-9):+.1f} |"
        )
    lines.append(f"\nBest single time: {best['kind']} at t = {best['t']:.1f}: {fmt(best)}.")
    if "attention" in res["mixers"]:
        att = res["mixers"]["attention"]["attention"]
        lines.append("Attention weight over t: " + ", ".join(f"{w:.2f}" for w in att) + ".")
    return "\n".join(lines)


def vs_k_table(res: dict) -> str:
    kinds = ["single", "concat", "gru", "attention"]
    lines = [
        "### accuracy vs k (unet source)",
        "",
        "| k | K = times | " + " | ".join(kinds) + " |",
        "|---|---|" + "---|" * len(kinds),
    ]
    for k in sorted(res, key=int):
        row = [fmt(res[k][m]) if m in res[k] else "" for m in kinds]
        lines.append(f"| {k} | {1 if k == '1' else int(k) + 1} | " + " | ".join(row) + " |")
    return "\n".join(lines)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--results", type=Path, default=RESULTS)
    p.add_argument("--tag", default="")
    args = p.parse_args()
    prefix = f"repr_{args.tag}_" if args.tag else "repr_"
    FIGS.mkdir(parents=True, exist_ok=True)
    out = []
    for path in sorted(args.results.glob("*.json")):
        res = json.loads(path.read_text())
        if path.stem == "unet_vs_k":
            out.append(vs_k_table(res))
        elif "mixers" not in res:  # a single probe summary (e.g. drl_single_mlp_t0)
            out.append(f"{path.stem}: {fmt(res)}")
        else:
            out.append(study_table(path.stem, res))
            for suffix in ("acc_vs_t", "attention"):
                fig = args.results / f"{path.stem}_{suffix}.png"
                if fig.exists():
                    shutil.copy(fig, FIGS / f"{prefix}{path.stem}_{suffix}.png")
        shutil.copy(path, FIGS / f"{prefix}{path.stem}.json")
    print("\n\n".join(out))


if __name__ == "__main__":
    main()
