"""Causal ablation over time: the component × time-window impact map.

After Prasad et al., *Unraveling the Temporal Dynamics of the Unet in Diffusion
Models* (arXiv 2312.14965): each component (a res/attn block, a skip, the
middle block) is removed inside one of W equal windows of the sampling run
only, and the final samples are compared with the unablated run (same seeds).

Removal is ``zero`` (:class:`Remove`: the whole output zeroed, shortcut
included) or ``bypass`` (:class:`Skip`: the component is not run and its
residual shortcut / identity / zero skip stands in). Under deterministic DDIM
the unablated state at each window start is cached once, so an ablated run
replays only the steps from its window on; under ancestral DDPM (the paper's
sampler) every run starts from x_T with the same per-sample noise streams, so
ablated and unablated runs differ only by the intervention.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import Tensor
from torch.utils.flop_counter import FlopCounterMode

from difflab.analysis.clock import StepWindow
from difflab.analysis.cost import measure_component_cost
from difflab.analysis.impact import ImpactScorer
from difflab.analysis.interventions import intervene
from difflab.analysis.interventions import removal as removal_class
from difflab.analysis.target import SamplingTarget, ddim_sample, ddim_trajectory, ddpm_sample
from difflab.errors import DifflabError
from difflab.io import atomic_write_json
from difflab.nn.components import SkipSlot, component_registry

_SUBPARTS = (".resnets.", ".attentions.", ".downsamplers.", ".upsamplers.")
IMPACT_SAMPLERS = ("ddim", "ddpm")


@dataclass(frozen=True)
class Unit:
    """One ablation unit: a display name and the registry components it removes together."""

    name: str
    components: tuple[str, ...]


def ablation_units(registry: dict[str, torch.nn.Module], removal: str = "zero") -> list[Unit]:
    """Sensible units in execution order: every block and skip; the middle block as one; no in/out conv.

    For ``difflab.nn.UNet`` the units are its res/attn blocks, resamplers,
    skips and ``mid``; for diffusers the top-level down/up blocks, ``mid`` and
    every skip slot. For ``removal="bypass"`` resamplers have no bypass and are
    left out, and a diffusers block unit skips its ResNets and attentions
    (its resampler still runs).
    """
    units = _zero_units(registry)
    if removal == "zero":
        return units
    removal_class(removal)  # validates the name
    diffusers = any(isinstance(m, SkipSlot) for m in registry.values())
    out = []
    for u in units:
        if u.name.endswith((".downsample", ".upsample")):
            continue
        if diffusers and not u.name.startswith("skip."):
            u = Unit(u.name, tuple(c for b in u.components for c in _children_of(registry, b)))
        out.append(u)
    return out


def _children_of(registry: dict[str, torch.nn.Module], block: str) -> list[str]:
    """The ResNets and attentions of a diffusers block (``down.1`` -> ``down.1.resnets.0``, ...)."""
    return [n for n in registry if n.startswith(block + ".") and (".resnets." in n or ".attentions." in n)]


def _zero_units(registry: dict[str, torch.nn.Module]) -> list[Unit]:
    units: list[Unit] = []
    mid = tuple(n for n in registry if n.startswith("mid."))
    diffusers = any(isinstance(m, SkipSlot) for m in registry.values())
    for name in registry:
        if name in ("in_conv", "out") or (diffusers and any(p in name for p in _SUBPARTS)):
            continue
        if name.startswith("mid"):
            if name == "mid" or (not diffusers and name == mid[0]):
                units.append(Unit("mid", ("mid",) if diffusers else mid))
            continue
        units.append(Unit(name, (name,)))
    return units


def step_windows(steps: int, windows: int) -> list[tuple[int, int]]:
    """W equal (up to rounding) step ranges ``[start, stop)`` covering ``0..steps``."""
    if not 1 <= windows <= steps:
        raise DifflabError(f"--windows must be between 1 and the number of steps ({steps}), got {windows}")
    bounds = [round(j * steps / windows) for j in range(windows + 1)]
    return list(zip(bounds[:-1], bounds[1:]))


def time_bounds(times: Tensor, start: int, stop: int) -> tuple[float, float]:
    """Diffusion-time range ``(t_lo, t_hi)`` covering steps ``start..stop-1`` of ``times``.

    The bounds lie half-way between grid points (never on one), so adjacent windows never both contain a step.
    """
    t = times.double().tolist()
    hi = 1.0 if start == 0 else (t[start - 1] + t[start]) / 2
    lo = 0.0 if stop >= len(t) - 1 else (t[stop - 1] + t[stop]) / 2
    return float(lo), float(hi)


@dataclass
class ImpactResult:
    """The impact map and everything needed to read it.

    Attributes:
        dataset, n, seed, steps: the sampling setting.
        windows: step ranges ``[start, stop)``; time: their ``(t_lo, t_hi)``.
        units: unit name -> component names.
        metrics: unit name -> one metrics dict per window (see :meth:`ImpactScorer.score`).
        cost: unit name -> ``{"ms", "flops", "ms_frac", "flops_frac"}`` per network call.
        reference: ``{"fd", "network_ms", "fd_kind"}`` of the unablated run.
        removal: ``zero`` (output zeroed) or ``bypass`` (component skipped for its shortcut).
        sampler: ``ddim`` (deterministic, replayed) or ``ddpm`` (ancestral, same noise streams).
    """

    dataset: str
    n: int
    seed: int
    steps: int
    windows: list[tuple[int, int]]
    time: list[tuple[float, float]]
    units: dict[str, list[str]]
    metrics: dict[str, list[dict[str, float]]] = field(default_factory=dict)
    cost: dict[str, dict[str, float]] = field(default_factory=dict)
    reference: dict[str, float | str] = field(default_factory=dict)
    removal: str = "zero"
    sampler: str = "ddim"

    def matrix(self, metric: str) -> np.ndarray:
        """``(units, windows)`` array of one metric."""
        return np.array([[m.get(metric, np.nan) for m in self.metrics[u]] for u in self.units], dtype=float)

    def save(self, path: str | Path) -> Path:
        atomic_write_json(Path(path), asdict(self))
        return Path(path)

    @classmethod
    def load(cls, path: str | Path) -> ImpactResult:
        d = json.loads(Path(path).read_text())
        d["windows"] = [tuple(w) for w in d["windows"]]
        d["time"] = [tuple(w) for w in d["time"]]
        return cls(**d)


def unit_costs(target: SamplingTarget, units: list[Unit], batch: int) -> tuple[dict[str, dict[str, float]], float]:
    """Measured ms and FLOPs per network call of each unit (sum over its components) and the whole network's ms."""
    x = torch.zeros(batch, *target.process.shape)
    t = torch.full((batch,), 0.5)
    per = measure_component_cost(target.network, (x, t), repeats=5)
    with torch.no_grad():
        target.network(x, t)
        ms = []
        for _ in range(5):
            t0 = time.perf_counter()
            target.network(x, t)
            ms.append((time.perf_counter() - t0) * 1e3)
    network_ms = float(np.median(ms))
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        target.network(x, t)
    total_flops = float(counter.get_total_flops())
    out = {}
    for u in units:
        c_ms = sum(per[c]["ms"] for c in u.components)
        c_fl = sum(per[c]["flops"] for c in u.components)
        out[u.name] = {
            "ms": c_ms,
            "flops": c_fl,
            "ms_frac": c_ms / network_ms,
            "flops_frac": c_fl / max(total_flops, 1.0),
        }
    return out, network_ms


@torch.no_grad()
def impact_study(
    target: SamplingTarget,
    *,
    dataset: str,
    heldout: Tensor,
    steps: int = 50,
    windows: int = 10,
    n: int = 256,
    seed: int = 0,
    grid: str = "uniform",
    units: list[Unit] | None = None,
    progress: Callable[[str], None] | None = None,
    removal: str = "zero",
    sampler: str = "ddim",
) -> ImpactResult:
    """Remove every unit inside every window, one at a time, and score the final samples.

    Args:
        target: model to study.
        dataset: dataset name (``digits`` adds label change, classifier-FD).
        heldout: held-out data ``(M, *shape)`` for the FD.
        steps: DDIM steps.
        windows: number of equal step windows W.
        n: samples (fixed seeds ``(seed, i)``).
        seed: base seed of the samples.
        grid: time grid name.
        units: what to remove (default :func:`ablation_units` for ``removal``).
        progress: called with one line per unit.
        removal: ``zero`` (:class:`Remove`) or ``bypass`` (:class:`Skip`).
        sampler: ``ddim`` (η = 0, replayed from cached states) or ``ddpm`` (ancestral; full runs
            with the same per-sample noise, seeds offset from the start noise).

    Returns:
        The :class:`ImpactResult` (metrics for ``len(units) × W`` ablated runs).
    """
    if sampler not in IMPACT_SAMPLERS:
        raise DifflabError(f"sampler must be one of {', '.join(IMPACT_SAMPLERS)}, got {sampler!r}")
    remove = removal_class(removal)
    registry = component_registry(target.network)
    units = units or ablation_units(registry, removal)
    for u in units:
        unknown = [c for c in u.components if c not in registry]
        if unknown:
            raise DifflabError(f"unit {u.name!r} names unknown components {unknown}")
    times = target.grid(steps, grid)
    wins = step_windows(steps, windows)
    x_T = target.start(n, seed)
    if sampler == "ddim":
        reference, states = ddim_trajectory(target, x_T, times)
    else:
        reference = ddpm_sample(target, x_T, times, seed)
    scorer = ImpactScorer(reference, heldout, dataset)
    cost, network_ms = unit_costs(target, units, batch=n)
    result = ImpactResult(
        dataset,
        n,
        seed,
        steps,
        wins,
        [time_bounds(times, a, b) for a, b in wins],
        {u.name: list(u.components) for u in units},
        cost=cost,
        reference={"fd": scorer.fd_reference, "network_ms": network_ms, "fd_kind": scorer.fd_kind},
        removal=removal,
        sampler=sampler,
    )
    for u in units:
        rows = []
        for a, b in wins:
            if sampler == "ddim":
                # Replay from the cached state at the window start; the clock counts from 0 there.
                with intervene(target.network, [(remove(c), StepWindow(0, b - a)) for c in u.components]):
                    samples = ddim_sample(target, states[a], times[a:])
            else:
                with intervene(target.network, [(remove(c), StepWindow(a, b)) for c in u.components]):
                    samples = ddpm_sample(target, x_T, times, seed)
            rows.append(scorer.score(samples))
        result.metrics[u.name] = rows
        if progress is not None:
            progress(
                f"{u.name}: 1-SSIM per window (t high->low) "
                + " ".join(f"{r['pixel_change']:.3f}" for r in rows)
                + f"; max FD shift {max(r['fd_shift'] for r in rows):+.2%}"
            )
    return result
