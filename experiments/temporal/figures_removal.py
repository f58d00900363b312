"""Figures for docs/temporal.md from the outputs of impact_maps.py and removal_vs_reuse.py.

    python experiments/temporal/figures_removal.py --maps runs/temporal_removal_w5 \
        --compare runs/temporal_removal/compare --out docs/figures
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def phase_figure(maps: Path, out: Path) -> None:
    phases = json.loads((maps / "phases.json").read_text())
    fig, axes = plt.subplots(1, 2, figsize=(8, 3))
    for key, ph in phases.items():
        for ax, metric in zip(axes, ("label_change", "pixel_change")):
            if metric in ph:
                ax.plot(ph["t_centre"], ph[metric], marker="o", label=key.replace("_", ", "))
    for ax, title in zip(axes, ("composition: label flips", "detail: 1 - SSIM")):
        ax.set_xlabel("t (window centre)")
        ax.set_title(title, fontsize=9)
        ax.invert_xaxis()
    axes[0].set_ylabel("mean over units")
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out / "temporal_removal_phases_ddim_ddpm.png", dpi=90)
    plt.close(fig)


def tradeoff_figure(compare: Path, out: Path) -> None:
    fig, ax = plt.subplots(figsize=(4.5, 3.2))
    for f in sorted(compare.glob("schedule_*.json")):  # every trial of a search is in its schedule's meta
        meta = json.loads(f.read_text())["meta"]
        for mech, ts in {meta["mechanism"]: meta["trials"]}.items():
            for kind, marker in (("reuse", "s"), (mech, "o")):
                pts = [t for t in ts if t.get("mechanism") == kind]
                if pts:
                    label = {"reuse": "reuse (DeepCache)", "removal": "removal (skip)", "both": "both"}[kind]
                    ax.scatter(
                        [100 * t["expected_saving"] for t in pts],
                        [100 * t["fd_shift"] for t in pts],
                        marker=marker,
                        s=14,
                        label=label,
                        alpha=0.7,
                    )
    handles, labels = ax.get_legend_handles_labels()
    uniq = dict(zip(labels, handles))
    ax.legend(uniq.values(), uniq.keys(), fontsize=7)
    ax.axhline(5, color="gray", lw=0.8, ls="--")
    ax.set_yscale("symlog", linthresh=10)  # the budget region stays readable next to +1000 %
    ax.set_xlabel("expected network time saved (%)")
    ax.set_ylabel("FD shift on the selection set (%)")
    fig.tight_layout()
    fig.savefig(out / "temporal_removal_tradeoff.png", dpi=90)
    plt.close(fig)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--maps", default=None)
    p.add_argument("--compare", default=None)
    p.add_argument("--out", default="docs/figures")
    args = p.parse_args()
    out = Path(args.out)
    if args.maps:
        phase_figure(Path(args.maps), out)
    if args.compare:
        tradeoff_figure(Path(args.compare), out)


if __name__ == "__main__":
    main()
