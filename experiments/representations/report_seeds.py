"""Across model seeds: run_attr.py studies of one recipe trained at several seeds, as mean ± std over the models.

Each model's number is its mean over probe seeds; the tables give the mean ± std (population, as
``summarise``) of those over the model seeds, and the mean probe-seed std beside it. The best single t
is chosen per model on validation; a mixer's margin is computed per model, then summarised.
Writes docs/figures/repr_attr_seeds_acc_vs_t.png (accuracy vs t per attribute, ± over models) and
docs/figures/repr_attr_seeds_attention.png (attention weight over t, ± over models), prints markdown.

Usage: python experiments/representations/report_seeds.py --names reg500s{}_full,reg500s{}_scaled --seeds 0,1,2
"""

import argparse
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from difflab.representations import best_single  # noqa: E402

FIGS = Path("docs/figures")
ATTRS = ("digit", "background", "joint")


def load(results: Path, pattern: str, seeds: list[int]) -> dict[str, list[dict]]:
    """``{attribute: [study per model seed]}`` for the attributes every seed has."""
    out = {}
    for attr in ATTRS:
        paths = [results / f"{pattern.format(s)}_{attr}.json" for s in seeds]
        if all(p.exists() for p in paths):
            out[attr] = [json.loads(p.read_text()) for p in paths]
    return out


def ms(values) -> str:
    a = 100 * np.asarray(values)
    return f"{a.mean():.1f} ± {a.std():.1f}"


def best_of(study: dict, kind: str) -> dict | None:
    """The validation-best time point of one single-time probe kind (``best_single`` over that kind alone)."""
    return best_single({"single": {kind: study["single"][kind]}}) if kind in study["single"] else None


def table(pattern: str, studies: dict[str, list[dict]]) -> str:
    first = studies[next(iter(studies))][0]
    proto = first.get("protocol", {})
    models = len(next(iter(studies.values())))
    lines = [
        f"#### {pattern.format('N')}: {models} model seeds, {len(first['seeds'])} probe seeds, "
        f"rates {proto.get('lrs')}, {proto.get('epochs')} epochs, width {proto.get('width')} (n = 360 test images, %)",
        "",
        "| probe | " + " | ".join(studies) + " |",
        "|---|" + "---|" * len(studies),
    ]
    best = {a: [best_of(s, "single") for s in runs] for a, runs in studies.items()}
    lines.append(
        "| best linear single t (per model, on validation) | "
        + " | ".join(
            f"{ms([b['mean'] for b in bs])} (t = {', '.join(format(b['t'], '.1f') for b in bs)})"
            for bs in best.values()
        )
        + " |"
    )
    mlp = {a: [best_of(s, "single-mlp") for s in runs] for a, runs in studies.items()}
    if all(m[0] is not None for m in mlp.values()):
        lines.append(
            "| best MLP single t (per model, on validation) | "
            + " | ".join(ms([b["mean"] for b in bs]) for bs in mlp.values())
            + " |"
        )
    for kind in first["mixers"]:
        row = []
        for a, runs in studies.items():
            acc = [s["mixers"][kind]["mean"] for s in runs]
            gap = [x - b["mean"] for x, b in zip(acc, best[a], strict=True)]
            cell = f"{ms(acc)}; − best linear single: {ms(gap)}"
            if mlp[a][0] is not None:
                cell += f"; − best MLP single: {ms([x - b['mean'] for x, b in zip(acc, mlp[a], strict=True)])}"
            row.append(cell)
        lines.append(f"| {kind} | " + " | ".join(row) + " |")
    noise = [
        np.mean([s["mixers"][k]["std"] for s in runs for k in s["mixers"]] + [b["std"] for b in best[a]])
        for a, runs in studies.items()
    ]
    lines.append("| mean probe-seed std (one model) | " + " | ".join(f"{100 * v:.1f}" for v in noise) + " |")
    if all("attention" in s["mixers"] for runs in studies.values() for s in runs):
        lines.append("")
        for a, runs in studies.items():
            w = np.array([s["mixers"]["attention"]["attention"] for s in runs])
            cells = ", ".join(f"{m:.3f} ± {d:.3f}" for m, d in zip(w.mean(0), w.std(0), strict=True))
            lines.append(f"Attention weight over t ({a}, mean ± std over models): {cells}.")
    return "\n".join(lines)


def plot_acc(studies: dict[str, list[dict]], path: Path, title: str) -> None:
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    for i, (attr, runs) in enumerate(studies.items()):
        color = f"C{i}"
        t = runs[0]["times"]
        for kind, style in (("single", "-o"), ("single-mlp", ":s")):
            if kind not in runs[0]["single"]:
                continue
            acc = 100 * np.array([[p["mean"] for p in s["single"][kind]] for s in runs])
            ax.errorbar(t, acc.mean(0), yerr=acc.std(0), fmt=style, color=color, capsize=3, label=f"{attr}: {kind}")
        for j, kind in enumerate(runs[0]["mixers"]):
            acc = 100 * np.array([s["mixers"][kind]["mean"] for s in runs])
            ax.axhline(acc.mean(), color=color, ls=("--", "-.", (0, (1, 1)))[j % 3], lw=1, label=f"{attr}: {kind}")
    ax.set_xlabel("t")
    ax.set_ylabel("test accuracy (%), mean ± std over model seeds")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=6, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def plot_attention(studies: dict[str, list[dict]], path: Path, title: str) -> None:
    fig, ax = plt.subplots(figsize=(5.0, 3.2))
    for i, (attr, runs) in enumerate(studies.items()):
        if "attention" not in runs[0]["mixers"]:
            continue
        w = np.array([s["mixers"]["attention"]["attention"] for s in runs])
        ax.errorbar(runs[0]["times"], w.mean(0), yerr=w.std(0), fmt="-o", color=f"C{i}", capsize=3, label=attr)
    ax.set_xlabel("t")
    ax.set_ylabel("summary-token attention weight")
    ax.set_ylim(bottom=0)
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--names", required=True, help="comma-separated name patterns, {} = the model seed")
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--results", type=Path, default=Path("/work/runs/rep/study"))
    p.add_argument("--figure-tag", default="seeds")
    args = p.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    FIGS.mkdir(parents=True, exist_ok=True)
    for i, pattern in enumerate(args.names.split(",")):
        studies = load(args.results, pattern, seeds)
        if not studies:
            print(f"{pattern}: no complete set of JSONs\n")
            continue
        print(table(pattern, studies), "\n")
        for attr, runs in studies.items():
            for s, study in zip(seeds, runs, strict=True):
                (FIGS / f"repr_attr_{pattern.format(s)}_{attr}.json").write_text(json.dumps(study))
        title = f"reg-drl 500 steps, {len(seeds)} model seeds: {pattern.format('N')}"
        plot_acc(studies, FIGS / f"repr_attr_{args.figure_tag}{i}_acc_vs_t.png", title)
        if any("attention" in r[0]["mixers"] for r in studies.values()):
            plot_attention(studies, FIGS / f"repr_attr_{args.figure_tag}{i}_attention.png", title)


if __name__ == "__main__":
    main()
