"""Figure of the design-space study: FD and bits/dim per cell (one point per seed), and samples.

Reads OUT/<dataset>/results.json written by study.py; the sample rows come from each cell's seed-0
model (16 samples, Euler–Maruyama at the study's step count, sample seed 0).

Usage:
    python experiments/gud_design_space/plot_study.py --out runs/gud_design_space \
        --figure docs/figures/gud_study_digits.png
"""

import argparse
import json
import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import torch
from PIL import Image
from study import cell_tag  # this folder is on sys.path when the script runs

from difflab.models.generate import generate
from difflab.models.run import load_run


def label(r: dict) -> str:
    if r["soft_form"] == "one_gamma":
        return "one γ (standard)"
    return f"{r['basis']}, softness {r['softness']:g}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", default="digits")
    ap.add_argument("--out", default="runs/gud_design_space")
    ap.add_argument("--figure", default="docs/figures/gud_study_digits.png")
    ap.add_argument("--sample-steps", type=int, default=64)
    args = ap.parse_args()
    torch.set_num_threads(1)
    root = Path(args.out) / args.dataset
    rows = json.loads((root / "results.json").read_text())["rows"]
    cells: dict[str, list[dict]] = {}
    for r in rows:
        cells.setdefault(label(r), []).append(r)
    names = sorted(cells, key=lambda k: (k != "one γ (standard)", k))
    fig = plt.figure(figsize=(10, 2.2 + 1.6 * len(names)))
    grid = fig.add_gridspec(1 + len(names), 2, height_ratios=[2.2] + [1.6] * len(names))
    for j, (key, name) in enumerate((("fd", "classifier-FD (n = 500 vs test)"), ("bits_per_dim", "bits/dim"))):
        ax = fig.add_subplot(grid[0, j])
        for i, c in enumerate(names):
            vals = [r[key] for r in cells[c]]
            ax.plot([i] * len(vals), vals, "o", alpha=0.6)
            ax.plot([i - 0.2, i + 0.2], [sum(vals) / len(vals)] * 2, "k-")
        ax.set_xticks(range(len(names)), names, fontsize=7)
        ax.set_yscale("log" if key == "fd" else "linear")
        ax.set_title(name, fontsize=8)
    for i, c in enumerate(names):
        r = min(cells[c], key=lambda r: r["seed"])
        run = load_run(root / cell_tag(r))
        x, _ = generate(run, 16, steps=args.sample_steps, sampler="euler", seed=0)
        img = torch.cat(list(x[:, 0].clamp(-1, 1)), dim=1)
        ax = fig.add_subplot(grid[1 + i, :])
        ax.imshow(img.numpy(), cmap="gray_r", vmin=-1, vmax=1)
        ax.set_axis_off()
        ax.set_title(f"{c}, seed {r['seed']}: 16 samples", fontsize=8)
    fig.suptitle(
        f"{args.dataset}: GUD design space at a CPU budget (200 training steps, EM {args.sample_steps} steps)",
        fontsize=9,
    )
    fig.tight_layout()
    fig.savefig(args.figure, dpi=100)
    Image.open(args.figure).convert("RGB").quantize(colors=128, method=Image.Quantize.MEDIANCUT).save(
        args.figure, optimize=True
    )
    print(args.figure, math.ceil(Path(args.figure).stat().st_size / 1024), "KB")


if __name__ == "__main__":
    main()
