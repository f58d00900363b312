"""Shortcut schedules: skip blocks, or serve their cached outputs, to sample faster.

Two mechanisms. ``reuse`` serves the cached outputs of a set of components
(e.g. DeepCache's deep path, arXiv 2312.00858; Block Caching, arXiv
2312.03209) inside a diffusion time range, recomputing them only on *key*
calls (every ``period``-th network call of a sampling run). ``skip`` removes
the components inside the range, as Prasad et al. (arXiv 2312.14965) remove
redundant GLIDE blocks: they are not run and their bypass stands in
(:class:`difflab.analysis.interventions.Skip`; ``period`` is 1). Which
components and where comes from the impact map: see :mod:`difflab.analysis.search`.

JSON layout (``schedule.json``)::

    {"version": 1, "shortcuts": [{"components": [...], "t_lo": 0.0, "t_hi": 0.8, "period": 3,
                                  "expected_saving": 0.41, "mechanism": "reuse"}, ...],
     "meta": {"run": ..., "steps": 50, "budget": 0.05, "expected_saving": ..., "measured": {...}}}
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from difflab.analysis.clock import Clock, TimeWindow
from difflab.analysis.interventions import Intervention, Reuse, Skip, intervene
from difflab.errors import DifflabError
from difflab.io import atomic_write_json
from difflab.nn.components import component_registry, resolve
from difflab.sampling import current_step

VERSION = 1
MECHANISMS = ("reuse", "skip")


@dataclass(frozen=True)
class KeyedTimeWindow(TimeWindow):
    """Active inside ``[t_lo, t_hi]`` except on key steps (``step % period == 0``), where caches refresh.

    ``step`` is the sampler's step (``clock.sampler_step``) when it is known, so every call of one
    sampler step (Heun's two, a guided pair) is a key call or none is; otherwise the root-call count.
    """

    period: int = 2

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.period < 2:
            raise DifflabError(f"shortcut period must be >= 2 (1 would never reuse), got {self.period}")

    def active(self, clock: Clock) -> bool:
        step = clock.sampler_step if clock.sampler_step is not None else clock.step
        return super().active(clock) and step is not None and step % self.period != 0


@dataclass(frozen=True)
class Shortcut:
    """For t in ``[t_lo, t_hi]``: reuse ``components`` (recomputed every ``period`` sampler steps) or skip them.

    ``mechanism`` is ``reuse`` (a cache, ``period`` >= 2) or ``skip`` (the bypass on every step, ``period`` 1).
    """

    components: tuple[str, ...]
    t_lo: float
    t_hi: float
    period: int
    expected_saving: float = 0.0
    mechanism: str = "reuse"

    def window(self) -> KeyedTimeWindow | TimeWindow:
        if self.mechanism not in MECHANISMS:
            raise DifflabError(f"shortcut mechanism must be one of {', '.join(MECHANISMS)}, got {self.mechanism!r}")
        if self.mechanism == "skip":
            if self.period != 1:
                raise DifflabError(f"a skip shortcut acts on every step: period must be 1, got {self.period}")
            return TimeWindow(self.t_lo, self.t_hi)
        return KeyedTimeWindow(self.t_lo, self.t_hi, self.period)

    def intervention(self, component: str) -> Intervention:
        return Skip(component) if self.mechanism == "skip" else Reuse(component)


@dataclass
class ShortcutSchedule:
    """A list of shortcuts plus free-form metadata (how it was found and measured)."""

    shortcuts: list[Shortcut] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)

    def interventions(self) -> list[tuple[Intervention, KeyedTimeWindow | TimeWindow]]:
        """``(Reuse(component) or Skip(component), window)`` pairs for :func:`difflab.analysis.intervene`."""
        return [(s.intervention(c), s.window()) for s in self.shortcuts for c in s.components]

    def validate(self, registry: dict[str, nn.Module]) -> None:
        """Raise DifflabError if a component is unknown to ``registry`` or two windows on one component overlap."""
        resolve(registry, {c for s in self.shortcuts for c in s.components})
        spans: dict[str, list[tuple[float, float]]] = {}
        for s in self.shortcuts:
            for c in s.components:
                for lo, hi in spans.get(c, []):
                    if s.t_lo <= hi and lo <= s.t_hi:
                        raise DifflabError(f"shortcuts on {c!r} overlap: [{lo}, {hi}] and [{s.t_lo}, {s.t_hi}]")
                spans.setdefault(c, []).append((s.t_lo, s.t_hi))

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": VERSION,
            "shortcuts": [{**asdict(s), "components": list(s.components)} for s in self.shortcuts],
            "meta": self.meta,
        }

    def save(self, path: str | Path) -> Path:
        atomic_write_json(Path(path), self.to_dict())
        return Path(path)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ShortcutSchedule:
        if not isinstance(d, dict) or d.get("version") != VERSION or not isinstance(d.get("shortcuts"), list):
            raise DifflabError(f"not a version-{VERSION} shortcut schedule (need keys version, shortcuts)")
        try:
            shortcuts = [
                Shortcut(
                    tuple(s["components"]),
                    float(s["t_lo"]),
                    float(s["t_hi"]),
                    int(s["period"]),
                    float(s.get("expected_saving", 0.0)),
                    str(s.get("mechanism", "reuse")),
                )
                for s in d["shortcuts"]
            ]
        except (KeyError, TypeError, ValueError) as e:
            raise DifflabError(f"malformed shortcut entry ({e}); each needs components, t_lo, t_hi, period") from None
        for s in shortcuts:
            s.window()  # validates the range and period
        return cls(shortcuts, dict(d.get("meta", {})))


def load_schedule(path: str | Path) -> ShortcutSchedule:
    """Read a schedule JSON; DifflabError if missing or malformed."""
    path = Path(path)
    if not path.is_file():
        raise DifflabError(f"shortcut schedule not found: {path}")
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise DifflabError(f"{path} is not valid JSON ({e.msg} at line {e.lineno})") from None
    return ShortcutSchedule.from_dict(data)


class ShortcutDenoiser(nn.Module):
    """A denoiser that runs its network under a schedule, restarting clock and caches per sampling run.

    Inside a difflab sampler the run and its step come from :func:`difflab.sampling.current_step`:
    a new run id restarts the clock and caches, and key steps count sampler steps, so Heun's
    second call and guidance's batched pair reuse like any other call. Called from elsewhere
    (e.g. a diffusers scheduler loop), a new run is detected when t increases (samplers go from
    t = 1 to 0; a repeated t continues the run) and key steps count network calls.
    """

    def __init__(self, denoiser: nn.Module, network: nn.Module, schedule: ShortcutSchedule) -> None:
        super().__init__()
        self.inner, self.schedule = denoiser, schedule
        object.__setattr__(self, "_network", network)  # not a child: it already is one of ``inner``
        self._stack: ExitStack | None = None
        self._last_t: float | None = None
        self._run_id: int | None = None
        self.sessions: list = []

    def restart(self) -> None:
        self.close()
        self._stack = ExitStack()
        self.sessions.append(self._stack.enter_context(intervene(self._network, self.schedule.interventions())))

    def close(self) -> None:
        if self._stack is not None:
            self._stack.close()
            self._stack = None
        self._last_t = None
        self._run_id = None

    def forward(self, x_t: Tensor, t: Tensor, **cond) -> Tensor:
        now = float(torch.as_tensor(t).flatten()[0])
        step = current_step()
        if step is not None:
            if self._stack is None or step[0] != self._run_id:
                self.restart()
            self._run_id = step[0]
        elif self._stack is None or self._last_t is None or now > self._last_t:
            self.restart()
        self._last_t = now
        self.sessions[-1].clock.sampler_step = None if step is None else step[1]
        return self.inner(x_t, t, **cond)


@contextmanager
def shortcut_denoiser(
    denoiser: nn.Module, schedule: ShortcutSchedule | str | Path | None, network: nn.Module | None = None
) -> Iterator[nn.Module]:
    """Yield ``denoiser`` with the schedule applied (pass it as ``generate(..., denoiser=...)``).

    Args:
        denoiser: a difflab denoiser (its ``network`` attribute is hooked unless ``network`` is given).
        schedule: a schedule, a path to its JSON, or None / empty (yields ``denoiser`` itself).
        network: the module to hook (default ``denoiser.network``).

    Yields:
        A :class:`ShortcutDenoiser` (its ``sessions`` hold the call counters of each run).
    """
    if isinstance(schedule, str | Path):
        schedule = load_schedule(schedule)
    if schedule is None or not schedule.shortcuts:
        yield denoiser
        return
    network = network if network is not None else denoiser.network
    schedule.validate(component_registry(network))
    wrapped = ShortcutDenoiser(denoiser, network, schedule)
    try:
        yield wrapped
    finally:
        wrapped.close()


def deep_groups(registry: Sequence[str] | dict[str, Any]) -> list[tuple[str, ...]]:
    """Nested DeepCache-style groups of a ``difflab.nn.UNet``: the deep part feeding each up block.

    Group m reuses the first m + 1 up-path res blocks (deepest first) and every
    component whose output flows only into them, so the remaining up blocks
    run on the cached deep feature plus fresh skips from the shallow down path.
    Skips (``skip.*``) pair with the down path's stacked outputs in reverse.

    Returns:
        Groups from smallest to largest, as component-name tuples (no skips).
    """
    names = list(registry)
    skips = [n for n in names if n.startswith("skip.")]
    producers = ["in_conv"]
    for n in names:
        parts = n.split(".")
        if parts[0] != "down":
            continue
        if parts[2] == "downsample":
            producers.append(n)
        elif parts[2] == "res":  # the stacked output is the attention block's if the level has one
            attn = f"down.{parts[1]}.attn.{parts[3]}"
            producers.append(attn if attn in names else n)
    if len(producers) != len(skips):
        raise DifflabError(
            f"cannot pair {len(skips)} skips with {len(producers)} down outputs; "
            f"deep_groups supports difflab.nn.UNet registries"
        )
    groups = []
    for m in range(len(skips) - 1):
        first = names.index(producers[-2 - m]) + 1
        last = names.index(skips[m + 1])
        group = tuple(n for n in names[first:last] if not n.startswith("skip."))
        if group and group not in groups:
            groups.append(group)
    return groups
