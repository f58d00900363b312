"""Figures of the temporal analysis: impact heatmap, phase plot, speed-up vs quality.

The phase plot follows Prasad et al. (arXiv 2312.14965): composition changes
(predicted digit flips, or FD shift where there are no labels) dominate when
early, high-noise windows are ablated; pixel-level detail changes dominate late.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from difflab.analysis.ablation import ImpactResult
from difflab.report import markdown_table, save_figure, write_report


def _window_labels(res: ImpactResult) -> list[str]:
    return [f"{hi:.2f}-{lo:.2f}" for lo, hi in res.time]


def impact_heatmap(res: ImpactResult, path: str | Path, metric: str = "pixel_change", title: str = "") -> Path:
    """Heatmap units × windows (windows ordered from t = 1, the first steps, to t = 0)."""
    mat = res.matrix(metric)
    fig = Figure(figsize=(1.0 + 0.55 * mat.shape[1], 1.0 + 0.28 * mat.shape[0]))
    ax = fig.add_subplot()
    im = ax.imshow(mat, aspect="auto", cmap="magma")
    ax.set_xticks(range(mat.shape[1]), _window_labels(res), rotation=60, fontsize=7)
    ax.set_yticks(range(mat.shape[0]), list(res.units), fontsize=7)
    ax.set_xlabel("removed during window (diffusion time t, sampling runs left to right)")
    fig.colorbar(im, ax=ax, label=metric)
    ax.set_title(title or f"impact of removal: {metric}", fontsize=9)
    return save_figure(fig, path)


def phase_plot(res: ImpactResult, path: str | Path, title: str = "") -> Path:
    """Composition vs detail change over windows, averaged over units, each normalised by its maximum."""
    comp_key = "label_change" if "label_change" in next(iter(res.metrics.values()))[0] else "fd_shift"
    comp = np.nanmean(np.abs(res.matrix(comp_key)), axis=0)
    detail = np.nanmean(res.matrix("pixel_change"), axis=0)
    centers = [(lo + hi) / 2 for lo, hi in res.time]
    fig = Figure(figsize=(9, 3.6))
    ax1, ax2 = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
    ax1.plot(centers, comp / max(comp.max(), 1e-12), "o-", label=f"composition ({comp_key})")
    ax1.plot(centers, detail / max(detail.max(), 1e-12), "s-", label="detail (1 - SSIM)")
    ax1.invert_xaxis()
    ax1.set_xlabel("window centre t (sampling runs left to right)")
    ax1.set_ylabel("mean over units / max")
    ax1.legend(fontsize=8)
    sc = ax2.scatter(detail, comp, c=centers, cmap="viridis")
    for x, y, c in zip(detail, comp, centers):
        ax2.annotate(f"{c:.2f}", (x, y), fontsize=6)
    ax2.set_xlabel("pixel change (1 - SSIM)")
    ax2.set_ylabel(comp_key)
    fig.colorbar(sc, ax=ax2, label="window centre t")
    fig.suptitle(title or "phases: composition vs detail", fontsize=10)
    return save_figure(fig, path)


def speedup_quality(points: Sequence[dict], path: str | Path, budget: float | None = None, title: str = "") -> Path:
    """Measured speed-up vs FD shift; each point a dict with ``speedup``, ``fd_shift`` and a ``label``."""
    fig = Figure(figsize=(5, 3.6))
    ax = fig.add_subplot()
    for p in points:
        ax.scatter(p["fd_shift"] * 100, p["speedup"])
        ax.annotate(p.get("label", ""), (p["fd_shift"] * 100, p["speedup"]), fontsize=6)
    if budget is not None:
        ax.axvline(budget * 100, ls="--", c="gray", label=f"budget {budget:.0%}")
        ax.legend(fontsize=8)
    ax.axhline(1.0, c="k", lw=0.5)
    ax.set_xlabel("FD increase (%)")
    ax.set_ylabel("wall-clock speed-up (50-step DDIM)")
    ax.set_title(title or "shortcut schedules: speed vs quality", fontsize=9)
    return save_figure(fig, path)


def write_impact_report(res: ImpactResult, out: str | Path, title: str = "Impact of removing UNet components") -> Path:
    """Write ``impact.json``, the figures and ``report.md`` linking every one of them.

    Figures: ``heatmap.png`` (1 - SSIM), ``heatmap_fd.png``, ``heatmap_labels.png`` (when the metrics
    have ``label_change``) and ``phase.png``.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    res.save(out / "impact.json")
    impact_heatmap(res, out / "heatmap.png", "pixel_change")
    impact_heatmap(res, out / "heatmap_fd.png", "fd_shift")
    figures = "![pixel change](heatmap.png)\n\n![FD shift](heatmap_fd.png)"
    if "label_change" in next(iter(res.metrics.values()))[0]:
        impact_heatmap(res, out / "heatmap_labels.png", "label_change")
        figures += "\n\n![label change](heatmap_labels.png)"
    phase_plot(res, out / "phase.png")
    rows = []
    for u in res.units:
        m = res.metrics[u]
        worst = max(range(len(m)), key=lambda j: m[j]["pixel_change"])
        rows.append(
            {
                "unit": u,
                "ms/call": res.cost[u]["ms"],
                "time share": res.cost[u]["ms_frac"],
                "FLOP share": res.cost[u]["flops_frac"],
                "mean 1-SSIM": float(np.mean([r["pixel_change"] for r in m])),
                "max FD shift": max(r["fd_shift"] for r in m),
                "most sensitive window (t)": _window_labels(res)[worst],
            }
        )
    setting = (
        f"{res.n} samples, seed {res.seed}, {res.steps}-step DDIM, {len(res.windows)} windows; "
        f"unablated {res.reference['fd_kind']}-FD {res.reference['fd']:.4g}; "
        f"network {res.reference['network_ms']:.3g} ms per call of batch {res.n}."
    )
    return write_report(
        out / "report.md",
        title,
        [
            ("Setting", setting),
            ("Per unit", markdown_table(rows)),
            ("Figures", figures + "\n\n![phases](phase.png)"),
        ],
    )
