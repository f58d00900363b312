"""Figures of the full design-space grid: FD and bits/dim against softness per basis and prior, and samples.

Reads OUT/<dataset>/results.json (study.py) and, if present, rescore.json (rescore.py: the same models
at more sampler steps, drawn dashed). Softness runs from ∞ (equal true SNR) through 1 (standard
diffusion under ``gud_code``) to 0.05 (autoregressive). Points: mean over seeds, bars: ± std.
The sample mosaic shows 8 samples (Euler–Maruyama, ``--sample-steps``, seed 0) of each cell's seed-0 model.

    python experiments/gud_design_space/plot_grid.py --out runs/gud_design_space \
        --figure docs/figures/gud_grid_digits.png --samples docs/figures/gud_grid_digits_samples.png
"""

import argparse
import json
import math
import statistics
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import torch
from PIL import Image
from study import cell_tag  # this folder is on sys.path when the script runs

from difflab.pipeline import generate, load_run

SOFTNESS = (math.inf, 1.0, 0.3, 0.1, 0.05)
BASES = ("pixel", "dct", "haar", "pca")
FD_TOP = 2000.0  # FD above this is a diverged sampler, not a model: clipped to the top of the axis
COLOURS = {"pixel": "C0", "dct": "C1", "haar": "C2", "pca": "C3"}
BASELINE_LABELS = {"full": "N(μ, C)", "real": "real train data"}  # gaussian_bpd.py --json


def _save(fig, path: str) -> None:
    fig.savefig(path, dpi=100)
    Image.open(path).convert("RGB").quantize(colors=128, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)
    print(path, math.ceil(Path(path).stat().st_size / 1024), "KB")


def _select(rows: list[dict], basis: str, prior: str, softness: float, steps: int | None = None) -> list[dict]:
    """The rows of one cell (one per seed); ``steps`` picks a rescore step count."""
    return [
        r
        for r in rows
        if r["basis"] == basis and r["prior"] == prior and r["softness"] == softness
        and (steps is None or r["steps"] == steps)
    ]  # fmt: skip


def _stats(vals: list[float]) -> tuple[float, float]:
    return statistics.mean(vals), statistics.stdev(vals) if len(vals) > 1 else 0.0


def measures(dataset: str) -> list[tuple[str, str, str]]:
    """``(row key, label, format)`` of what the grid reports. Patches add the log-spectrum error, which
    weighs every radial frequency band equally, and both scores against held-out *training* patches
    (``study.score_train_ref``): the test split is cut from other photographs."""
    if dataset != "patches":
        return [("fd", "classifier-FD", ".1f"), ("bits_per_dim", "bits/dim", ".3f")]
    return [
        ("fd", "PCA-FD vs test", ".2f"),
        ("spectrum_error", "spectrum error vs test", ".3f"),
        ("fd_train_ref", "PCA-FD vs train", ".2f"),
        ("spectrum_error_train_ref", "spectrum error vs train", ".3f"),
        ("bits_per_dim", "bits/dim", ".3f"),
    ]


def curves(rows, rescore, priors, dataset, path, baselines=None):
    keys = measures(dataset)
    size = (4.2 * len(priors), 3.2 * len(keys))
    fig, axes = plt.subplots(len(keys), len(priors), figsize=size, squeeze=False, layout="constrained")
    for j, prior in enumerate(priors):
        for (key, title, _), ax in zip(keys, axes[:, j], strict=True):
            for b in BASES:
                xs, ms, ss = [], [], []
                for i, s in enumerate(SOFTNESS):
                    v = [r[key] for r in _select(rows, b, prior, s) if r.get(key) is not None]
                    if v:
                        m, sd = _stats(v)
                        xs, ms, ss = [*xs, i + 0.06 * BASES.index(b)], [*ms, m], [*ss, sd]
                if xs and key == "fd":  # a diverged sampler (FD in the thousands and up) is drawn as ▲ at the top
                    top = [m > FD_TOP for m in ms]
                    ss = [0.0 if t else sd for t, sd in zip(top, ss, strict=True)]
                    ms = [FD_TOP if t else m for t, m in zip(top, ms, strict=True)]
                    ax.plot([x for x, t in zip(xs, top, strict=True) if t], [FD_TOP] * sum(top), "^", color=COLOURS[b])
                if xs:
                    ax.errorbar(xs, ms, yerr=ss, color=COLOURS[b], marker="o", ms=3, capsize=2, label=b)
                if key == "fd":
                    for steps in sorted({r["steps"] for r in rescore}):
                        pts = [
                            (i + 0.06 * BASES.index(b), _stats(v)[0])
                            for i, s in enumerate(SOFTNESS)
                            if (v := [r["fd"] for r in _select(rescore, b, prior, s, steps)])
                        ]
                        if pts:
                            ax.plot(*zip(*pts, strict=True), "--", color=COLOURS[b], marker="x", ms=4, alpha=0.8)
            for (name, ref), style in zip((baselines or {}).items(), (":", "-."), strict=False):
                if ref.get(key) is not None:
                    ax.axhline(ref[key], color="0.4", ls=style, lw=1, label=BASELINE_LABELS.get(name, name))
            ax.set_xticks(range(len(SOFTNESS)), ["∞", "1", "0.3", "0.1", "0.05"])
            ax.set_xlabel("softness")
            if key != "bits_per_dim":
                ax.set_yscale("log")
            ax.set_title(f"{prior} prior: {title}", fontsize=9)
            ax.legend(fontsize=7)
    fig.suptitle(
        f"{dataset}: GUD design space (mean ± std over seeds)\ndashed ×: the same models at more sampler steps;\n"
        f"▲: FD > {FD_TOP:g}, a diverged sampler",
        fontsize=9,
    )
    _save(fig, path)


def mosaic(rows, priors, root, path, steps):
    fig, axes = plt.subplots(len(BASES), len(priors) * len(SOFTNESS), figsize=(1.5 * len(priors) * 5, 1.6 * 4))
    for j, prior in enumerate(priors):
        for i, b in enumerate(BASES):
            for k, s in enumerate(SOFTNESS):
                ax = axes[i, j * len(SOFTNESS) + k]
                ax.set_axis_off()
                cell = _select(rows, b, prior, s)
                if not cell:
                    continue
                r = min(cell, key=lambda r: r["seed"])
                x, _ = generate(load_run(root / cell_tag(r)), 8, steps=steps, sampler="euler", seed=0)
                x = x[:, 0].clamp(-1, 1)
                img = torch.cat([torch.cat(list(x[:4]), 1), torch.cat(list(x[4:]), 1)], 0)
                ax.imshow(img.numpy(), cmap="gray_r" if img.shape[-1] < 64 else "gray", vmin=-1, vmax=1)
                ax.set_title(f"{prior[0]} {b} {s:g}", fontsize=7)
    fig.tight_layout()
    _save(fig, path)


def table(rows, rescore, priors, dataset) -> str:
    """Markdown: per prior, basis × softness with FD (study steps; rescored steps), the dataset's other
    measures and bits/dim, mean ± std."""

    def cell(vals, fmt):
        if not vals:
            return "—"
        m, sd = _stats(vals)
        return f"{m:{fmt}} ± {sd:{fmt}}" if len(vals) > 1 else f"{m:{fmt}} (1 seed)"

    out = []
    for prior in priors:
        out += [
            f"**{prior} prior**",
            "",
            "| basis | measure | ∞ | 1 | 0.3 | 0.1 | 0.05 |",
            "|---|---|---|---|---|---|---|",
        ]
        for b in BASES:
            sel = [_select(rows, b, prior, s) for s in SOFTNESS]
            if not any(sel):
                continue
            steps = sorted({r.get("sample_steps", 64) for c in sel for r in c})
            key, label, fmt = measures(dataset)[0]
            out.append(
                f"| {b} | {label}, EM {'/'.join(map(str, steps))} | "
                + " | ".join(cell([r[key] for r in c], fmt) for c in sel)
                + " |"
            )
            for st in sorted({r["steps"] for r in rescore}):
                sc = [[r["fd"] for r in _select(rescore, b, prior, s, st)] for s in SOFTNESS]
                if any(sc):
                    out.append(f"| {b} | FD, EM {st} | " + " | ".join(cell(v, ".1f") for v in sc) + " |")
            for key, label, fmt in measures(dataset)[1:]:
                vals = [[r[key] for r in c if r.get(key) is not None] for c in sel]
                out.append(f"| {b} | {label} | " + " | ".join(cell(v, fmt) for v in vals) + " |")
        out.append("")
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", default="digits")
    ap.add_argument("--out", default="runs/gud_design_space")
    ap.add_argument("--figure", default="docs/figures/gud_grid_digits.png")
    ap.add_argument("--samples", default=None, help="also write the sample mosaic here")
    ap.add_argument("--sample-steps", type=int, default=256, help="EM steps of the mosaic (stable at 0.05)")
    ap.add_argument("--baselines", default=None, help="gaussian_bpd.py --json output: reference lines")
    args = ap.parse_args()
    torch.set_num_threads(1)
    root = Path(args.out) / args.dataset
    rows = [r for r in json.loads((root / "results.json").read_text())["rows"] if r["soft_form"] == "gud_code"]
    rescore = json.loads((root / "rescore.json").read_text()) if (root / "rescore.json").exists() else []
    rescore = [r for r in rescore if r["soft_form"] == "gud_code"]
    priors = [p for p in ("white", "data") if any(r["prior"] == p for r in rows)]
    print(table(rows, rescore, priors, args.dataset))
    baselines = json.loads(Path(args.baselines).read_text()) if args.baselines else {}
    baselines = {k: v for k, v in baselines.items() if k in BASELINE_LABELS}  # the diag Gaussian is off the scale
    curves(rows, rescore, priors, args.dataset, args.figure, baselines)
    if args.samples:
        mosaic(rows, priors, root, args.samples, args.sample_steps)


if __name__ == "__main__":
    main()
