"""Figures: accuracy versus t (single-time curves, mixers as horizontal lines) and attention over t."""

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from difflab.report import save_figure

_COLOURS = {"concat": "tab:green", "gru": "tab:red", "attention": "tab:purple"}


def plot_accuracy_vs_t(study: dict, path: str | Path, title: str = "") -> Path:
    """Single-time accuracy (mean ± std band) per t; each mixer a horizontal line with its ± std band."""
    fig = Figure(figsize=(6.4, 4.2))
    ax = fig.subplots()
    t = np.asarray(study["times"])
    for kind, per_t in study["single"].items():
        m, s = np.array([r["mean"] for r in per_t]), np.array([r["std"] for r in per_t])
        ax.plot(t, m, "o-", ms=3, label=f"{kind} probe at t")
        ax.fill_between(t, m - s, m + s, alpha=0.2)
    for kind, r in study["mixers"].items():
        c = _COLOURS.get(kind, "black")
        ax.axhline(r["mean"], color=c, ls="--", label=f"{kind} ({r['mean']:.3f} ± {r['std']:.3f})")
        ax.axhspan(r["mean"] - r["std"], r["mean"] + r["std"], color=c, alpha=0.1)
    ax.set_xlabel("t (0 = clean, 1 = noise)")
    ax.set_ylabel("test accuracy")
    ax.set_title(title or "accuracy vs t")
    ax.legend(fontsize=7, loc="lower left")
    ax.grid(alpha=0.3)
    return save_figure(fig, path)


def plot_attention(study: dict, path: str | Path, title: str = "") -> Path | None:
    """The attention mixer's summary-token weight on each time point (mean over test set and seeds)."""
    att = study["mixers"].get("attention", {}).get("attention")
    if att is None:
        return None
    fig = Figure(figsize=(6.4, 3.2))
    ax = fig.subplots()
    ax.bar(study["times"], att, width=0.8 / max(len(att), 1))
    ax.set_xlabel("t (0 = clean, 1 = noise)")
    ax.set_ylabel("attention weight")
    ax.set_title(title or "summary-token attention over t")
    ax.grid(alpha=0.3, axis="y")
    return save_figure(fig, path)
