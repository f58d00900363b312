"""Plots for reports, drawn with matplotlib's Agg canvas (no pyplot, no global backend)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, NullFormatter, ScalarFormatter

from difflab.errors import DifflabError
from difflab.io.atomic import atomic_open

__all__ = ["diverged_points", "plot_quality_vs_steps", "save_figure", "save_scatter"]


def save_figure(fig: Figure, path: str | Path, *, dpi: int = 120) -> Path:
    """Render ``fig`` with Agg and write it atomically (format from the suffix, PNG by default)."""
    path = Path(path)
    FigureCanvasAgg(fig)
    fmt = path.suffix.lstrip(".").lower() or "png"
    with atomic_open(path, "wb") as f:
        fig.savefig(f, format=fmt, dpi=dpi, bbox_inches="tight")
    return path


def diverged_points(results: Mapping[str, Mapping[int, float | None]], factor: float = 10.0) -> set[tuple[str, int]]:
    """``(sampler, steps)`` pairs whose value is missing, not finite, or above ``factor`` × the median of the rest."""
    finite = [float(v) for c in results.values() for v in c.values() if v is not None and np.isfinite(v)]
    cap = factor * float(np.median(finite)) if finite else np.inf
    return {
        (name, s)
        for name, curve in results.items()
        for s, v in curve.items()
        if v is None or not np.isfinite(v) or (cap > 0 and v > cap)
    }


def plot_quality_vs_steps(
    results: Mapping[str, Mapping[int, float | None]],
    path: str | Path,
    metric_name: str,
    floor: float | None = None,
    *,
    title: str | None = None,
    floor_label: str = "floor",
    diverged_factor: float = 10.0,
) -> Path:
    """Plot a metric against the number of sampling steps, one line per sampler.

    The y axis is logarithmic when every plotted value is positive, so one poor setting does
    not flatten the others. A diverged point (missing, NaN/inf, or above ``diverged_factor`` ×
    the median of all values, e.g. Heun at 4 steps) is not plotted: a triangle at the top edge
    marks it, with its value, and the legend says so.

    Args:
        results: ``{sampler: {steps: value}}``; steps must be positive (log x axis).
        path: Output image path.
        metric_name: Y-axis label, e.g. ``"FID"`` or ``"energy distance"``.
        floor: Optional reference value (e.g. the metric between two real
            splits), drawn as a dashed horizontal line.
        title: Optional figure title.
        floor_label: Legend entry for the floor line.
        diverged_factor: How many medians above which a point counts as diverged.

    Returns:
        ``path``.
    """
    if not results or not any(results.values()):
        raise DifflabError("plot_quality_vs_steps needs at least one (steps, value) result")
    diverged = diverged_points(results, diverged_factor)
    fig = Figure(figsize=(5.5, 3.8))
    ax = fig.add_subplot()
    all_steps: set[int] = set()
    shown: list[float] = [] if floor is None else [float(floor)]
    lines = {}
    for name, curve in results.items():
        steps = sorted(curve)
        if any(s <= 0 for s in steps):
            raise DifflabError(f"sampler '{name}': step counts must be positive for a log axis, got {steps}")
        all_steps.update(steps)
        ys = [np.nan if (name, s) in diverged else float(curve[s]) for s in steps]
        shown += [y for y in ys if np.isfinite(y)]
        (lines[name],) = ax.plot(steps, ys, marker="o", label=str(name))
    if floor is not None:
        ax.axhline(floor, color="black", linestyle="--", linewidth=1.0, label=floor_label)
    if shown and min(shown) > 0:
        ax.set_yscale("log")
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.yaxis.set_minor_formatter(FuncFormatter(lambda v, _: f"{v:g}" if str(f"{v:g}")[0] in "235" else ""))
    if diverged:
        low, high = ax.get_ylim()
        top = high * 1.4 if ax.get_yscale() == "log" else high + 0.15 * (high - low)
        ax.set_ylim(low, top)
        for name, s in sorted(diverged):
            v = results[name][s]
            text = "n/a" if v is None or not np.isfinite(v) else (f"{v:.4g}" if abs(v) < 1e4 else f"{v:.0f}")
            ax.plot([s], [top], marker="^", markersize=9, color=lines[name].get_color(), clip_on=False)
            ax.annotate(
                f"{name} {text}", (s, top), textcoords="offset points", xytext=(7, -4), ha="left", va="top", fontsize=7
            )
        ax.plot([], [], marker="^", color="grey", linestyle="none", label="diverged: value shown, not plotted")
    ax.set_xscale("log")
    ax.set_xticks(sorted(all_steps))
    ax.xaxis.set_major_formatter(ScalarFormatter())
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("sampling steps")
    ax.set_ylabel(metric_name + (" (log scale)" if ax.get_yscale() == "log" else ""))
    if title:
        ax.set_title(title)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return save_figure(fig, path)


def save_scatter(
    points: torch.Tensor | np.ndarray,
    path: str | Path,
    reference: torch.Tensor | np.ndarray | None = None,
    *,
    title: str | None = None,
    limits: tuple[float, float] | None = None,
) -> Path:
    """Scatter 2-D samples, optionally over reference data in grey.

    Args:
        points: ``(N, 2)`` samples.
        path: Output image path.
        reference: Optional ``(M, 2)`` data drawn behind the samples.
        title: Optional figure title.
        limits: Optional ``(low, high)`` for both axes; default fits the data.

    Returns:
        ``path``.
    """
    pts = _as_2d_points(points, "points")
    fig = Figure(figsize=(4.5, 4.5))
    ax = fig.add_subplot()
    size = float(np.clip(2000.0 / max(len(pts), 1), 1.0, 20.0))
    if reference is not None:
        ref = _as_2d_points(reference, "reference")
        ax.scatter(ref[:, 0], ref[:, 1], s=size, c="0.7", alpha=0.6, linewidths=0, label="data")
    ax.scatter(pts[:, 0], pts[:, 1], s=size, c="C0", alpha=0.7, linewidths=0, label="samples")
    if limits is not None:
        ax.set_xlim(*limits)
        ax.set_ylim(*limits)
    ax.set_aspect("equal", adjustable="datalim" if limits is None else "box")
    if reference is not None:
        ax.legend(loc="upper right", markerscale=3)
    if title:
        ax.set_title(title)
    return save_figure(fig, path)


def _as_2d_points(x: torch.Tensor | np.ndarray, name: str) -> np.ndarray:
    arr = x.detach().float().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x, dtype=float)
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise DifflabError(f"save_scatter: {name} must have shape (N, 2), got {tuple(arr.shape)}")
    return arr
