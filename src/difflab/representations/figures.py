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


def plot_attributes(studies: dict[str, dict], path: str | Path, title: str = "") -> Path:
    """Accuracy vs t of the single-time probe, one curve per attribute (± std band); mixers as dashed lines.

    ``studies`` maps an attribute name to its :func:`~difflab.representations.study.run_study` result.
    """
    fig = Figure(figsize=(6.8, 4.2))
    ax = fig.subplots()
    styles = {"concat": ":", "gru": "-.", "attention": "--"}
    for i, (attr, study) in enumerate(studies.items()):
        c = f"C{i}"
        t = np.asarray(study["times"])
        for kind, per_t in study["single"].items():
            m, s = np.array([r["mean"] for r in per_t]), np.array([r["std"] for r in per_t])
            ax.plot(t, m, "o-", ms=3, color=c, label=f"{attr}: {kind} at t")
            ax.fill_between(t, m - s, m + s, color=c, alpha=0.15)
            break  # one single-time curve per attribute
        for kind, r in study["mixers"].items():
            ax.axhline(r["mean"], color=c, ls=styles.get(kind, "--"), lw=1, label=f"{attr}: {kind} {r['mean']:.3f}")
    ax.set_xlabel("t (0 = clean, 1 = noise)")
    ax.set_ylabel("test accuracy")
    ax.set_title(title or "accuracy vs t per attribute")
    ax.legend(fontsize=6, loc="lower left", ncol=2)
    ax.grid(alpha=0.3)
    return save_figure(fig, path)


def plot_attention_attributes(studies: dict[str, dict], path: str | Path, title: str = "") -> Path | None:
    """The attention mixer's summary-token weight over t, one bar group per attribute."""
    rows = {a: s["mixers"]["attention"]["attention"] for a, s in studies.items() if "attention" in s["mixers"]}
    if not rows:
        return None
    times = np.asarray(next(iter(studies.values()))["times"])
    fig = Figure(figsize=(6.8, 3.4))
    ax = fig.subplots()
    width = 0.8 * (times[1] - times[0] if len(times) > 1 else 1.0) / len(rows)
    for i, (attr, w) in enumerate(rows.items()):
        ax.bar(times + (i - (len(rows) - 1) / 2) * width, w, width=width, label=attr, color=f"C{i}")
    ax.set_xlabel("t (0 = clean, 1 = noise)")
    ax.set_ylabel("attention weight")
    ax.set_title(title or "summary-token attention over t per attribute")
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3, axis="y")
    return save_figure(fig, path)
