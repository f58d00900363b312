"""Choosing a shortcut schedule from the impact map, and measuring what it buys.

Prasad et al. (arXiv 2312.14965) use the windows where removing a block barely
changes the output to skip it there; DeepCache (arXiv 2312.00858) reuses the
deep path's output on non-key steps. Here a candidate reuses one nested deep
group (:func:`difflab.analysis.shortcuts.deep_groups`) with a refresh period p
over the windows where the group's removal impact is smallest; for each
(group, p) a bisection over how many windows to cover finds the largest one
whose *actually sampled* FD stays within the budget, and the candidate with the
largest expected saving (measured component time) wins.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import Tensor

from difflab.analysis.ablation import ImpactResult
from difflab.analysis.cost import measure_component_cost
from difflab.analysis.impact import ImpactScorer
from difflab.analysis.shortcuts import Shortcut, ShortcutSchedule, deep_groups, shortcut_denoiser
from difflab.analysis.target import SamplingTarget, ddim_sample
from difflab.errors import DifflabError
from difflab.nn.components import SkipSlot, component_registry
from difflab.sampling import sample_ddim
from difflab.utils.device import sync_device


def diffusers_deep_groups(registry: dict) -> list[tuple[str, ...]]:
    """Block-level deep groups of a diffusers UNet: ``down.c..``, ``mid`` and the up blocks they feed."""
    levels = sum(1 for n in registry if n.count(".") == 1 and n.startswith("down."))
    return [
        tuple([f"down.{i}" for i in range(c, levels)] + ["mid"] + [f"up.{j}" for j in range(levels - c)])
        for c in range(levels - 1, 0, -1)
    ]


def candidate_groups(network: torch.nn.Module) -> list[tuple[str, ...]]:
    registry = component_registry(network)
    if any(isinstance(m, SkipSlot) for m in registry.values()):
        return diffusers_deep_groups(registry)
    return deep_groups(registry)


def windows_by_impact(impact: ImpactResult, group: Sequence[str], metric: str = "pixel_change") -> list[int]:
    """Window indices ordered from least to most impact of removing the group's units (summed)."""
    members = [u for u, comps in impact.units.items() if set(comps) <= set(group)]
    if not members:
        return list(range(len(impact.windows)))[::-1]  # no evidence: late windows first
    score = np.nansum([impact.matrix(metric)[list(impact.units).index(u)] for u in members], axis=0)
    return [int(i) for i in np.argsort(score, kind="stable")]


def build_schedule(
    impact: ImpactResult, group: Sequence[str], windows: Sequence[int], period: int, group_frac: float
) -> ShortcutSchedule:
    """Shortcuts reusing ``group`` over the chosen windows (contiguous ones merged), refresh every ``period``."""
    chosen = sorted(windows)
    runs: list[list[int]] = []
    for w in chosen:
        if runs and runs[-1][-1] == w - 1:
            runs[-1].append(w)
        else:
            runs.append([w])
    shortcuts = []
    for r in runs:
        lo, hi = impact.time[r[-1]][0], impact.time[r[0]][1]
        covered = sum(impact.windows[w][1] - impact.windows[w][0] for w in r) / impact.steps
        shortcuts.append(Shortcut(tuple(group), lo, hi, period, group_frac * (1 - 1 / period) * covered))
    return ShortcutSchedule(shortcuts, {"expected_saving": sum(s.expected_saving for s in shortcuts)})


@torch.no_grad()
def sample_with(
    target: SamplingTarget, schedule: ShortcutSchedule | None, x_T: Tensor, times: Tensor
) -> tuple[Tensor, list]:
    """DDIM samples with the schedule applied; returns ``(samples (B, *shape), per-run call counters)``."""
    with shortcut_denoiser(target.denoiser, schedule, target.network) as d:
        x0 = ddim_sample(SamplingTarget(d, target.network, target.process), x_T, times)
        return x0, [s.calls for s in getattr(d, "sessions", [])]


def time_shares(target: SamplingTarget, batch: int, repeats: int = 5) -> dict[str, float]:
    """Measured share of one network call's time spent in each component."""
    x, t = torch.zeros(batch, *target.process.shape), torch.full((batch,), 0.5)
    per = measure_component_cost(target.network, (x, t), repeats=repeats)
    total = _median_seconds(lambda: target.network(x, t), repeats) * 1e3
    return {c: v["ms"] / total for c, v in per.items()}


def _median_seconds(fn: Callable[[], object], repeats: int) -> float:
    with torch.no_grad():
        fn()
        out = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            fn()
            out.append(time.perf_counter() - t0)
    return statistics.median(out)


def measure_speedup(
    target: SamplingTarget,
    schedule: ShortcutSchedule,
    *,
    n: int,
    steps: int,
    seed: int = 0,
    repeats: int = 5,
    grid: str = "uniform",
) -> dict[str, float]:
    """Wall-clock of the unmodified DDIM sampler vs the same sampler with shortcuts (same seeds, float32).

    Runs alternate (base, shortcut, base, ...) so load drifts hit both; medians of ``repeats``.
    """
    x_T, times = target.start(n, seed).float(), target.grid(steps, grid)
    base, fast = [], []

    def timed_run(with_shortcuts: bool) -> float:
        # The shortcut hooks wrap the shared network, so the plain run must happen outside the context.
        with (
            torch.no_grad(),
            shortcut_denoiser(target.denoiser, schedule if with_shortcuts else None, target.network) as d,
        ):
            sync_device(x_T.device)
            t0 = time.perf_counter()
            sample_ddim(d, target.process, x_T, times)
            sync_device(x_T.device)  # CUDA runs asynchronously: wait for the last kernel before reading the clock
            return time.perf_counter() - t0

    timed_run(False), timed_run(True)  # warm-up
    for _ in range(repeats):
        base.append(timed_run(False))
        fast.append(timed_run(True))
    b, f = statistics.median(base), statistics.median(fast)
    return {"base_s": b, "shortcut_s": f, "speedup": b / f}


def search_schedule(
    target: SamplingTarget,
    impact: ImpactResult,
    heldout: Tensor,
    *,
    budget: float = 0.05,
    periods: Sequence[int] = (2, 3, 4, 5),
    grid: str = "uniform",
    progress: Callable[[str], None] | None = None,
) -> ShortcutSchedule:
    """Largest expected saving whose sampled FD shift is within ``budget`` (same n, seeds, steps as ``impact``).

    Returns:
        The chosen schedule; ``meta`` holds the budget, the measured quality of
        the choice (``fd``, ``fd_shift``, ``ssim``, ...) and every trial
        (``group``, ``period``, ``windows``, ``expected_saving``, ``fd_shift``).
        An empty schedule if nothing fits.
    """
    if budget < 0:
        raise DifflabError(f"--budget is a relative FD increase and must be >= 0, got {budget}")
    times = target.grid(impact.steps, grid)
    x_T = target.start(impact.n, impact.seed)
    reference, _ = sample_with(target, None, x_T, times)
    scorer = ImpactScorer(reference, heldout, impact.dataset)
    trials: list[dict] = []
    best: tuple[ShortcutSchedule, dict] | None = None
    shares = time_shares(target, impact.n)
    cands = [(g, p, min(1.0, sum(shares[c] for c in g))) for g in candidate_groups(target.network) for p in periods]
    cands.sort(key=lambda c: -c[2] * (1 - 1 / c[1]))
    for group, period, frac in cands:
        order = windows_by_impact(impact, group)
        best_saving = best[0].meta["expected_saving"] if best else 0.0
        if frac * (1 - 1 / period) <= best_saving:
            continue  # cannot beat the current best even covering every window
        lo, hi = 0, len(order)  # largest k in [lo, hi] with the first k windows in budget; k = 0 always is
        while lo < hi:
            k = (lo + hi + 1) // 2
            sched = build_schedule(impact, group, order[:k], period, frac)
            samples, _ = sample_with(target, sched, x_T, times)
            score = scorer.score(samples)
            ok = score["fd_shift"] <= budget
            trials.append(
                {
                    "group": list(group),
                    "period": period,
                    "windows": sorted(order[:k]),
                    "expected_saving": sched.meta["expected_saving"],
                    "ok": ok,
                    **score,
                }
            )
            if progress is not None:
                progress(
                    f"try: reuse {len(group)} unit(s) every {period} steps in {k} window(s): network time saved "
                    f"{sched.meta['expected_saving']:.1%}, FD shift {score['fd_shift']:+.2%} "
                    f"({'within' if ok else 'over'} budget)"
                )
            if ok and (best is None or sched.meta["expected_saving"] > best[0].meta["expected_saving"]):
                best = (sched, score)
            lo, hi = (k, hi) if ok else (lo, k - 1)
    schedule, score = best if best is not None else (ShortcutSchedule([], {"expected_saving": 0.0}), {})
    schedule.meta.update(
        budget=budget,
        steps=impact.steps,
        n=impact.n,
        seed=impact.seed,
        dataset=impact.dataset,
        fd_reference=scorer.fd_reference,
        measured=score,
        trials=trials,
    )
    return schedule
