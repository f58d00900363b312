"""Where a sampling run is: the clock and the time windows interventions live in.

Prasad et al. (arXiv 2312.14965) ablate UNet components over ranges of
diffusion time. A :class:`Clock` reads the current time from the root model's
time input (a forward pre-hook) and counts root calls; a window says whether an
intervention is active at that reading.

Windows:

- :class:`TimeWindow` ``(t_lo, t_hi)``: active when ``t_lo <= t <= t_hi``
  (diffusion time in [0, 1], bounds inclusive; put bounds between grid points
  to avoid float ties). A plain ``(lo, hi)`` tuple means this.
- :class:`StepWindow` ``(start, stop)``: active for root calls
  ``start <= step < stop`` counted from 0 when the clock is attached (a sampler
  that calls the model twice per step, e.g. for guidance, advances it twice).
  A ``range`` means this.
- ``None``: always active.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from difflab.errors import DifflabError

_TIME_ARGS = ("t", "timestep", "timesteps", "sigma")


@dataclass(frozen=True)
class TimeWindow:
    """Active while ``t_lo <= t <= t_hi`` (diffusion time in [0, 1])."""

    t_lo: float
    t_hi: float

    def __post_init__(self) -> None:
        if not 0.0 <= self.t_lo <= self.t_hi <= 1.0:
            raise DifflabError(f"time window needs 0 <= t_lo <= t_hi <= 1, got ({self.t_lo}, {self.t_hi})")

    def active(self, clock: Clock) -> bool:
        t = clock.t
        if t is not None and not 0.0 <= t <= 1.0:
            raise DifflabError(
                f"model time {clock.raw_t} maps to t={t}, outside [0, 1]; pass Clock(time_fn=...) "
                f"mapping it to diffusion time, e.g. lambda ts: ts / num_train_timesteps"
            )
        return t is not None and self.t_lo <= t <= self.t_hi


@dataclass(frozen=True)
class StepWindow:
    """Active for root-model calls with index ``start <= step < stop``."""

    start: int
    stop: int

    def __post_init__(self) -> None:
        if not 0 <= self.start <= self.stop:
            raise DifflabError(f"step window needs 0 <= start <= stop, got ({self.start}, {self.stop})")

    def active(self, clock: Clock) -> bool:
        return clock.step is not None and self.start <= clock.step < self.stop


class Always:
    """Active on every call."""

    def active(self, clock: Clock) -> bool:
        return True

    def __repr__(self) -> str:
        return "Always()"


Window = TimeWindow | StepWindow | Always


def as_window(spec: Any) -> Window:
    """Turn ``None``, a ``(t_lo, t_hi)`` tuple, a ``range`` or a window into a window."""
    if spec is None:
        return Always()
    if isinstance(spec, TimeWindow | StepWindow | Always):
        return spec
    if isinstance(spec, range):
        if spec.step != 1:
            raise DifflabError(f"step window {spec} must have step 1")
        return StepWindow(spec.start, spec.stop)
    if isinstance(spec, tuple | list) and len(spec) == 2:
        return TimeWindow(float(spec[0]), float(spec[1]))
    raise DifflabError(
        f"window {spec!r} is not understood: use None, (t_lo, t_hi) in [0, 1], "
        f"range(start, stop) of calls, TimeWindow or StepWindow"
    )


class Clock:
    """Reads diffusion time from the root model's time input and counts its calls.

    Args:
        time_fn: maps the raw time argument (a Python float) to diffusion time
            in [0, 1]; e.g. ``lambda ts: ts / 1000`` for a diffusers UNet
            driven by a 1000-step scheduler. Default: identity.
        time_arg: name of the time parameter of ``model.forward``; default: the
            first of ``t``, ``timestep``, ``timesteps``, ``sigma`` it has.

    Attributes:
        t: diffusion time of the current (or last) root call; None before any.
        raw_t: the time argument as passed, before ``time_fn``.
        step: index of the current (or last) root call since attaching; None before any.
        sampler_step: the sampler's step index of the current call when whoever drives the model
            knows it (set by :class:`difflab.analysis.shortcuts.ShortcutDenoiser` from
            :func:`difflab.sampling.current_step`); None otherwise.
    """

    def __init__(self, time_fn: Callable[[float], float] | None = None, time_arg: str | None = None) -> None:
        self.time_fn, self.time_arg = time_fn, time_arg
        self.t: float | None = None
        self.raw_t: float | None = None
        self.step: int | None = None
        self.sampler_step: int | None = None
        self._on_tick: list[Callable[[], None]] = []

    def attach(self, model: nn.Module) -> Callable[[], None]:
        """Start reading ``model``'s calls; returns a function that detaches the clock."""
        sig = inspect.signature(model.forward)
        name = self.time_arg or next((a for a in _TIME_ARGS if a in sig.parameters), None)
        if name is None or name not in sig.parameters:
            raise DifflabError(
                f"cannot find the time argument of {type(model).__name__}.forward "
                f"(parameters: {list(sig.parameters)}); pass Clock(time_arg=...)"
            )
        self.t, self.raw_t, self.step = None, None, None

        def hook(module: nn.Module, args: tuple, kwargs: dict[str, Any]) -> None:
            bound = sig.bind_partial(*args, **kwargs).arguments
            if name not in bound:
                raise DifflabError(f"{type(module).__name__} was called without its time argument {name!r}")
            self.t = self._read(bound[name])
            self.step = 0 if self.step is None else self.step + 1
            for fn in self._on_tick:
                fn()

        handle = model.register_forward_pre_hook(hook, with_kwargs=True)
        return handle.remove

    def on_tick(self, fn: Callable[[], None]) -> Callable[[], None]:
        """Call ``fn()`` at the start of every root call (after t and step are updated).

        Returns:
            A function that unregisters ``fn``.
        """
        self._on_tick.append(fn)
        return lambda: self._on_tick.remove(fn)

    def _read(self, raw: Any) -> float:
        if isinstance(raw, torch.Tensor):
            flat = raw.detach().flatten()
            if flat.numel() == 0:
                raise DifflabError("the model was called with an empty time tensor")
            if flat.numel() > 1 and not bool((flat == flat[0]).all()):
                raise DifflabError(
                    "time-windowed interventions need one time per call, but the batch mixes "
                    f"times {flat[:4].tolist()}...; call the model with a shared t"
                )
            raw = flat[0].item()
        # Range is checked by TimeWindow, so step windows work on raw diffusers timesteps.
        self.raw_t = float(raw)
        return float(self.time_fn(self.raw_t) if self.time_fn is not None else self.raw_t)
