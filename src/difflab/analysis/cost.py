"""What each named UNet component costs: wall time and FLOPs per forward.

Tells which blocks are worth caching or skipping (DeepCache, Block Caching;
Prasad et al., arXiv 2312.14965 report the time saved by removing redundant
blocks). Costs are inclusive: a block's figures contain those of its
sub-components (``down.0`` includes ``down.0.resnets.0``), so they do not sum
to the model's total.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from difflab.errors import DifflabError
from difflab.nn.components import component_registry, route_skips
from difflab.utils.device import sync_device


@contextmanager
def _span_hooks(registry: dict[str, nn.Module], reading, totals: dict[str, float]) -> Iterator[None]:
    """Add ``reading()`` at exit minus at entry of every component to ``totals[name]``."""
    starts: dict[str, list[float]] = defaultdict(list)
    with ExitStack() as stack:
        for name, mod in registry.items():

            def pre(_m, _a, name=name) -> None:
                starts[name].append(reading())

            def post(_m, _a, _o, name=name) -> None:
                totals[name] += reading() - starts[name].pop()

            stack.callback(mod.register_forward_pre_hook(pre).remove)
            stack.callback(mod.register_forward_hook(post).remove)
        stack.enter_context(route_skips(registry))
        yield


def measure_component_cost(
    model: nn.Module, example_inputs: tuple | dict[str, Any], *, repeats: int = 3, warmup: int = 1
) -> dict[str, dict[str, float]]:
    """Time and count FLOPs of every registry component over one model call.

    Args:
        model: ``difflab.nn.UNet`` or ``diffusers.UNet2DModel``.
        example_inputs: positional arguments for ``model(...)`` (e.g.
            ``(x, t)`` with x ``(B, C, H, W)``, t ``(B,)``) or a dict of keyword arguments.
        repeats: timed calls; ``ms`` is the median over them.
        warmup: untimed calls first (allocator, kernels).

    Returns:
        name -> ``{"ms": median milliseconds per model call, "flops": FLOPs per
        model call}`` (inclusive of sub-components; FLOPs as counted by
        ``torch.utils.flop_counter``: matmuls and convolutions, 2 per multiply-add).
    """
    if repeats < 1 or warmup < 0:
        raise DifflabError(f"measure_component_cost needs repeats >= 1 and warmup >= 0, got {repeats}, {warmup}")
    args, kwargs = ((), dict(example_inputs)) if isinstance(example_inputs, dict) else (tuple(example_inputs), {})
    registry = component_registry(model)
    device = next(model.parameters()).device

    def call() -> None:
        with torch.no_grad():
            model(*args, **kwargs)

    for _ in range(warmup):
        call()
    runs: list[dict[str, float]] = []
    for _ in range(repeats):
        ms: dict[str, float] = defaultdict(float)

        def clock() -> float:
            sync_device(device)
            return time.perf_counter() * 1e3

        with _span_hooks(registry, clock, ms):
            call()
        runs.append(ms)
    flops: dict[str, float] = defaultdict(float)
    counter = FlopCounterMode(display=False)
    with _span_hooks(registry, counter.get_total_flops, flops), counter:
        call()
    return {
        name: {"ms": float(torch.tensor([r[name] for r in runs]).median()), "flops": float(flops[name])}
        for name in registry
    }
