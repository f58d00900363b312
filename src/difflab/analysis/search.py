"""Choosing a shortcut schedule from the impact map, and measuring what it buys.

Three mechanisms (``SEARCH_MECHANISMS``):

- ``removal`` — Prasad et al. (arXiv 2312.14965): skip a block (its bypass
  stands in, :class:`difflab.analysis.interventions.Skip`) in the windows
  where removing it barely changes the output. The (unit, window) cells of a
  *bypass* impact map are ranked by impact per unit of time saved; a bisection
  finds the longest prefix of that ranking whose sampled FD stays in budget.
- ``reuse`` — DeepCache (arXiv 2312.00858): a candidate reuses one nested deep
  group (:func:`difflab.analysis.shortcuts.deep_groups`) with a refresh period
  p over the windows where the group's removal impact is smallest; per
  (group, p) a bisection over how many windows to cover; the candidate with the
  largest expected saving (measured component time) wins.
- ``both`` — the best reuse schedule, then removal of the units outside its group.

The search selects on one sample set (the impact map's seeds);
:func:`report_schedule` measures the chosen schedule on separate sample sets,
with the FD's own noise (two sample sets of the unmodified model).
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
from difflab.analysis.impact import ImpactScorer, fd_between
from difflab.analysis.shortcuts import Shortcut, ShortcutSchedule, deep_groups, shortcut_denoiser
from difflab.analysis.target import SamplingTarget, ddim_sample
from difflab.errors import DifflabError
from difflab.nn.components import SkipSlot, component_registry
from difflab.sampling import sample_ddim
from difflab.utils.device import sync_device

SEARCH_MECHANISMS = ("reuse", "removal", "both")


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


def removal_cells(
    impact: ImpactResult, exclude: Sequence[str] = (), metric: str = "pixel_change", min_frac: float = 0.01
) -> list[tuple[str, int]]:
    """(unit, window) cells of a bypass impact map, cheapest in impact per unit of time saved first.

    Units sharing a component with ``exclude`` and units under ``min_frac`` of a network call's time
    (skip connections: skipping them saves nothing) are left out.
    """
    m, skip = impact.matrix(metric), set(exclude)
    cells = []
    for i, (unit, comps) in enumerate(impact.units.items()):
        frac = impact.cost[unit]["ms_frac"]
        if skip & set(comps) or frac < min_frac:
            continue
        cells += [(float(np.nan_to_num(m[i, w], nan=np.inf)) / frac, unit, w) for w in range(len(impact.windows))]
    cells.sort(key=lambda c: c[0])
    return [(u, w) for _, u, w in cells]


def removal_schedule(
    impact: ImpactResult, cells: Sequence[tuple[str, int]], base: ShortcutSchedule | None = None
) -> ShortcutSchedule:
    """``base`` plus skip shortcuts for the cells (a unit's contiguous windows merged into one range)."""
    base = base or ShortcutSchedule([], {"expected_saving": 0.0})
    by_unit: dict[str, list[int]] = {}
    for u, w in cells:
        by_unit.setdefault(u, []).append(w)
    shortcuts = list(base.shortcuts)
    for unit, wins in by_unit.items():
        frac = impact.cost[unit]["ms_frac"]
        runs: list[list[int]] = []
        for w in sorted(wins):
            if runs and runs[-1][-1] == w - 1:
                runs[-1].append(w)
            else:
                runs.append([w])
        for r in runs:
            covered = sum(impact.windows[w][1] - impact.windows[w][0] for w in r) / impact.steps
            lo, hi = impact.time[r[-1]][0], impact.time[r[0]][1]
            shortcuts.append(Shortcut(tuple(impact.units[unit]), lo, hi, 1, frac * covered, "skip"))
    return ShortcutSchedule(shortcuts, {"expected_saving": sum(s.expected_saving for s in shortcuts)})


def _bisect(
    n_max: int, build: Callable[[int], ShortcutSchedule], evaluate: Callable[[ShortcutSchedule, int], bool]
) -> None:
    """Largest k in [0, n_max] whose schedule ``build(k)`` is in budget, assuming in-budget is monotone in k."""
    lo, hi = 0, n_max
    while lo < hi:
        k = (lo + hi + 1) // 2
        lo, hi = (k, hi) if evaluate(build(k), k) else (lo, k - 1)


def search_schedule(
    target: SamplingTarget,
    impact: ImpactResult,
    heldout: Tensor,
    *,
    budget: float = 0.05,
    periods: Sequence[int] = (2, 3, 4, 5),
    grid: str = "uniform",
    progress: Callable[[str], None] | None = None,
    mechanism: str = "reuse",
) -> ShortcutSchedule:
    """Largest expected saving whose sampled FD shift is within ``budget`` (same n, seeds, steps as ``impact``).

    Args:
        target: model to speed up.
        impact: its impact map (the selection set: its n, seed and steps).
        heldout: held-out data for the FD.
        budget: allowed relative FD increase on the selection set.
        periods: refresh periods tried for reuse.
        grid: time grid name.
        progress: called with one line per trial.
        mechanism: ``reuse``, ``removal`` (needs a ``bypass`` impact map) or ``both``.

    Returns:
        The chosen schedule; ``meta`` holds the budget, the mechanism, the measured quality of
        the choice on the selection set (``fd``, ``fd_shift``, ``ssim``, ...) and every trial
        (``mechanism``, ``group``/``cells``, ``period``, ``windows``, ``expected_saving``, ``fd_shift``).
        An empty schedule if nothing fits.
    """
    if budget < 0:
        raise DifflabError(f"--budget is a relative FD increase and must be >= 0, got {budget}")
    if mechanism not in SEARCH_MECHANISMS:
        raise DifflabError(f"mechanism must be one of {', '.join(SEARCH_MECHANISMS)}, got {mechanism!r}")
    if mechanism != "reuse" and impact.removal != "bypass":
        raise DifflabError(
            f"the {mechanism} search ranks cells of a bypass impact map; this map zeroes outputs "
            f"(removal={impact.removal!r}): use `difflab ablate --removal bypass` or let the search compute it"
        )
    times = target.grid(impact.steps, grid)
    x_T = target.start(impact.n, impact.seed)
    reference, _ = sample_with(target, None, x_T, times)
    scorer = ImpactScorer(reference, heldout, impact.dataset)
    trials: list[dict] = []
    best: tuple[ShortcutSchedule, dict] | None = None

    def evaluate(sched: ShortcutSchedule, what: str, trial: dict) -> bool:
        nonlocal best
        samples, _ = sample_with(target, sched, x_T, times)
        score = scorer.score(samples)
        ok = score["fd_shift"] <= budget
        trials.append({**trial, "expected_saving": sched.meta["expected_saving"], "ok": ok, **score})
        if progress is not None:
            progress(
                f"try: {what}: network time saved {sched.meta['expected_saving']:.1%}, "
                f"FD shift {score['fd_shift']:+.2%} ({'within' if ok else 'over'} budget)"
            )
        if ok and (best is None or sched.meta["expected_saving"] > best[0].meta["expected_saving"]):
            best = (sched, score)
        return ok

    if mechanism in ("reuse", "both"):
        shares = time_shares(target, impact.n)
        groups = candidate_groups(target.network)
        cands = [(g, p, min(1.0, sum(shares[c] for c in g))) for g in groups for p in periods]
        cands.sort(key=lambda c: -c[2] * (1 - 1 / c[1]))
        for group, period, frac in cands:
            order = windows_by_impact(impact, group)
            best_saving = best[0].meta["expected_saving"] if best else 0.0
            if frac * (1 - 1 / period) <= best_saving:
                continue  # cannot beat the current best even covering every window
            _bisect(
                len(order),
                lambda k, g=group, p=period, f=frac, o=order: build_schedule(impact, g, o[:k], p, f),
                lambda sched, k, g=group, p=period, o=order: evaluate(
                    sched,
                    f"reuse {len(g)} unit(s) every {p} steps in {k} window(s)",
                    {"mechanism": "reuse", "group": list(g), "period": p, "windows": sorted(o[:k])},
                ),
            )
    if mechanism in ("removal", "both"):
        base = best[0] if best is not None else None
        used = [c for s in base.shortcuts for c in s.components] if base is not None else []
        cells = removal_cells(impact, exclude=used)
        _bisect(
            len(cells),
            lambda k: removal_schedule(impact, cells[:k], base),
            lambda sched, k: evaluate(
                sched,
                f"skip {k} (unit, window) cell(s)" + (" on top of the reuse schedule" if base else ""),
                {"mechanism": mechanism, "cells": [list(c) for c in cells[:k]], "base": len(used)},
            ),
        )
    schedule, score = best if best is not None else (ShortcutSchedule([], {"expected_saving": 0.0}), {})
    schedule.meta.update(
        budget=budget,
        mechanism=mechanism,
        steps=impact.steps,
        n=impact.n,
        seed=impact.seed,
        dataset=impact.dataset,
        fd_reference=scorer.fd_reference,
        measured=score,
        trials=trials,
    )
    return schedule


def report_schedule(
    target: SamplingTarget,
    schedule: ShortcutSchedule,
    heldout: Tensor,
    dataset: str,
    *,
    n: int,
    steps: int,
    seeds: Sequence[int],
    grid: str = "uniform",
) -> dict:
    """The schedule's quality on sample sets separate from the selection set, with the FD's own noise.

    Per seed: ``n`` samples of the plain sampler and the same seeds with the schedule, scored as in
    the search (FD to ``heldout``, SSIM and label change against the plain samples).

    Returns:
        ``seeds``, ``n``, per set ``fd_plain``, ``fd_shortcut``, ``fd_shift``, ``ssim`` (and
        ``label_change`` on digits); ``fd_shift_mean``, ``fd_shift_std`` and the 95 % t-interval
        half-width ``fd_shift_ci95`` over sets; the noise: ``fd_plain_rel_std`` (spread of the plain
        FD between sets, relative) and ``fd_between_plain_sets`` (FD between consecutive plain sets).
    """
    from scipy.stats import t as student_t

    if len(seeds) < 2:
        raise DifflabError(f"a report needs at least 2 sample sets (the FD noise needs two), got {len(seeds)}")
    times = target.grid(steps, grid)
    out: dict = {"seeds": list(seeds), "n": n, "fd_plain": [], "fd_shortcut": [], "fd_shift": [], "ssim": []}
    plains = []
    for seed in seeds:
        x_T = target.start(n, seed)
        plain, _ = sample_with(target, None, x_T, times)
        fast, _ = sample_with(target, schedule, x_T, times)
        score = ImpactScorer(plain, heldout, dataset).score(fast)
        out["fd_plain"].append(score["fd"] / (1 + score["fd_shift"]))
        out["fd_shortcut"].append(score["fd"])
        out["fd_shift"].append(score["fd_shift"])
        out["ssim"].append(score["ssim"])
        if "label_change" in score:
            out.setdefault("label_change", []).append(score["label_change"])
        plains.append(plain)
    shifts, k = np.array(out["fd_shift"]), len(seeds)
    out["fd_shift_mean"] = float(shifts.mean())
    out["fd_shift_std"] = float(shifts.std(ddof=1))
    out["fd_shift_ci95"] = float(student_t.ppf(0.975, k - 1) * shifts.std(ddof=1) / np.sqrt(k))
    fp = np.array(out["fd_plain"])
    out["fd_plain_rel_std"] = float(fp.std(ddof=1) / fp.mean())
    out["fd_between_plain_sets"] = [fd_between(a, b, dataset) for a, b in zip(plains, plains[1:])]
    return out
