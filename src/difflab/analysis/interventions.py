"""Time-windowed interventions on named UNet components.

Causal ablation (Prasad et al., *Unraveling the Temporal Dynamics of the Unet
in Diffusion Models*, arXiv 2312.14965) removes blocks or skip connections over
ranges of time steps; caching (DeepCache, arXiv 2312.00858; Block Caching,
arXiv 2312.03209) reuses a block's output from the previous step instead of
computing it.

Two notions of removal: :class:`Skip` does not run the component and returns its
bypass (``shortcut(x)`` for a residual block, identity for attention, zeros for a
skip connection; :mod:`difflab.analysis.bypass`), so it saves the component's
compute; :class:`Remove` runs it and zeroes its whole output (shortcut included),
a causal probe that saves nothing.

Mechanism: inside :func:`intervene`, each targeted component's ``forward`` is
replaced at instance level (like diffusers' ``ModelHook.new_forward``), so a
reused component's original forward is really not run. On exit the instance
attribute, the clock's pre-hook and the skip-routing pre-hooks are removed,
also when the body raises, leaving the model as it was.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from difflab.analysis.bypass import bypass_fn
from difflab.analysis.clock import Clock, Window, as_window
from difflab.errors import DifflabError
from difflab.nn.components import component_registry, resolve, route_skips


def _tree_map(fn: Callable[[torch.Tensor], Any], obj: Any) -> Any:
    """Apply ``fn`` to every tensor in nested tuples / lists / dicts (block outputs)."""
    if isinstance(obj, torch.Tensor):
        return fn(obj)
    if isinstance(obj, tuple | list):
        return type(obj)(_tree_map(fn, o) for o in obj)
    if isinstance(obj, dict):
        return {k: _tree_map(fn, v) for k, v in obj.items()}
    return obj


def _signature(args: tuple, kwargs: dict) -> tuple:
    """Shapes/dtypes of the tensor inputs: a cache entry is valid only for the same signature."""
    sig: list[Any] = []
    _tree_map(lambda x: sig.append((tuple(x.shape), x.dtype, x.device)), (args, kwargs))
    return tuple(sig)


@dataclass(frozen=True)
class Intervention:
    """Base class: what happens to ``component`` while the intervention's window is active."""

    component: str

    def apply(self, compute: Callable[[], Any], cached: Any | None, bypass: Callable[[], Any] | None = None) -> Any:
        """Produce the component's output.

        Args:
            compute: runs the original forward (and refreshes any cache).
            cached: the output cached at the previous computed call, or None.
            bypass: computes the component's bypass without running it (only given to :class:`Skip`).
        """
        raise NotImplementedError


@dataclass(frozen=True)
class Identity(Intervention):
    """Run the component unchanged (a no-op that still goes through the hooks)."""

    def apply(self, compute: Callable[[], Any], cached: Any | None, bypass: Callable[[], Any] | None = None) -> Any:
        return compute()


@dataclass(frozen=True)
class Remove(Intervention):
    """Zero the component's whole output (the ``zero`` removal); for a skip this drops the connection.

    The original forward still runs (its output shape is needed); Remove
    measures a causal effect, it does not save compute. For a residual block
    it also cuts the shortcut, severing the feature stream: :class:`Skip` is
    the removal that keeps it.
    """

    def apply(self, compute: Callable[[], Any], cached: Any | None, bypass: Callable[[], Any] | None = None) -> Any:
        return _tree_map(torch.zeros_like, compute())


@dataclass(frozen=True)
class Skip(Intervention):
    """Do not run the component; return its bypass (the ``bypass`` removal, which saves its compute).

    Residual block -> ``shortcut(x)``, attention block -> ``x``, skip
    connection -> zeros (see :mod:`difflab.analysis.bypass`; components
    without a bypass are refused when :func:`intervene` starts).
    """

    def apply(self, compute: Callable[[], Any], cached: Any | None, bypass: Callable[[], Any] | None = None) -> Any:
        if bypass is None:
            raise DifflabError(f"Skip({self.component!r}) needs the component's bypass")
        return bypass()


@dataclass(frozen=True)
class Reuse(Intervention):
    """Serve the output cached at the previous computed call without running the component.

    The cache is refreshed whenever the component is computed (outside the
    window, or inside it when there is no valid cache yet: first call, or the
    input shapes changed).
    """

    def apply(self, compute: Callable[[], Any], cached: Any | None, bypass: Callable[[], Any] | None = None) -> Any:
        return compute() if cached is None else cached


REMOVALS: dict[str, type[Intervention]] = {"zero": Remove, "bypass": Skip}
"""The two notions of removing a component: zero its whole output, or skip it for its bypass."""


def removal(kind: str) -> type[Intervention]:
    """The intervention class of a removal name (``zero`` or ``bypass``)."""
    if kind not in REMOVALS:
        raise DifflabError(f"removal must be one of {', '.join(REMOVALS)}, got {kind!r}")
    return REMOVALS[kind]


@dataclass
class InterventionSession:
    """What :func:`intervene` yields.

    Attributes:
        clock: the clock driving the windows.
        registry: name -> module of the model's components.
        calls: per component, how many times its original forward ran.
        served: per component, how many outputs came from a Reuse cache.
        skipped: per component, how many outputs were its bypass (Skip).
    """

    clock: Clock
    registry: dict[str, nn.Module]
    calls: Counter = field(default_factory=Counter)
    served: Counter = field(default_factory=Counter)
    skipped: Counter = field(default_factory=Counter)
    _cache: dict[tuple[str, int], tuple[tuple, Any]] = field(default_factory=dict)
    _occurrence: Counter = field(default_factory=Counter)


def _wrap(
    name: str, module: nn.Module, entries: list[tuple[Intervention, Window]], session: InterventionSession, track: bool
) -> Callable[[], None]:
    """Replace ``module.forward`` at instance level; returns the function that restores it."""
    had_own = "forward" in module.__dict__
    previous = module.__dict__.get("forward")
    original = module.forward
    skip = bypass_fn(module) if any(isinstance(iv, Skip) for iv, _ in entries) else None

    def forward(*args: Any, **kwargs: Any) -> Any:
        # A module may run more than once per root call; cache each occurrence separately.
        occ = session._occurrence[name]
        session._occurrence[name] += 1
        key, sig = (name, occ), (_signature(args, kwargs) if track else ())

        def compute() -> Any:
            session.calls[name] += 1
            out = original(*args, **kwargs)
            if track:  # detached so a cache never holds an autograd graph across calls
                session._cache[key] = (sig, _tree_map(torch.Tensor.detach, out))
            return out

        active = [iv for iv, w in entries if w.active(session.clock)]
        if len(active) > 1:
            raise DifflabError(
                f"interventions {active} are all active on {name!r} at t={session.clock.t}, "
                f"step={session.clock.step}; make their windows disjoint"
            )
        if not active:
            return compute()
        if isinstance(active[0], Skip):
            session.skipped[name] += 1
            return active[0].apply(compute, None, lambda: skip(args, kwargs))
        hit = session._cache.get(key)
        cached = hit[1] if hit is not None and hit[0] == sig else None
        out = active[0].apply(compute, cached)
        if cached is not None and out is cached:
            session.served[name] += 1
        return out

    module.forward = forward

    def restore() -> None:
        if had_own:
            module.forward = previous
        else:
            del module.forward

    return restore


@contextmanager
def intervene(
    model: nn.Module,
    interventions: Sequence[tuple[Intervention, Any]] = (),
    clock: Clock | None = None,
    *,
    count: Sequence[str] | None = None,
) -> Iterator[InterventionSession]:
    """Apply interventions to named components, each only inside its window.

    Args:
        model: the root network (``difflab.nn.UNet`` or ``diffusers.UNet2DModel``);
            the clock reads time from its calls.
        interventions: ``(intervention, window)`` pairs; a window is None
            (always), ``(t_lo, t_hi)`` in diffusion time, ``range(start, stop)``
            of root calls, or a :class:`TimeWindow` / :class:`StepWindow`. Several
            pairs may target one component if their windows never overlap.
        clock: reads t from the model's time input; default ``Clock()``
            (identity mapping: pass ``Clock(time_fn=...)`` for diffusers timesteps).
        count: extra component names whose original forward calls to count
            (targeted components are always counted).

    Yields:
        An :class:`InterventionSession` with call counters.
    """
    registry = component_registry(model)
    clock = clock or Clock()
    plan: dict[str, list[tuple[Intervention, Window]]] = {}
    for iv, window in interventions:
        if not isinstance(iv, Intervention):
            raise DifflabError(f"{iv!r} is not an Intervention; use Skip, Remove, Reuse or Identity(name)")
        plan.setdefault(iv.component, []).append((iv, as_window(window)))
    for name in count or ():
        plan.setdefault(name, [])
    modules = resolve(registry, plan)
    session = InterventionSession(clock, registry)
    with ExitStack() as stack:
        stack.callback(clock.on_tick(session._occurrence.clear))
        stack.callback(clock.attach(model))
        stack.enter_context(route_skips(registry))
        for name, entries in plan.items():
            track = any(isinstance(iv, Reuse) for iv, _ in entries)
            stack.callback(_wrap(name, modules[name], entries, session, track))
        yield session
