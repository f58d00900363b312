"""Component registries: stable names for the parts of a UNet.

Generic (no capability's code): :mod:`difflab.analysis` and :mod:`difflab.representations` build on it.
Ablation and caching (Prasad et al., *Unraveling the Temporal Dynamics of the
Unet in Diffusion Models*, arXiv 2312.14965; DeepCache; Block Caching) address
a network's blocks and skip connections by name, through hooks, never by
editing the network's code.

- ``difflab.nn.UNet`` (anything with a ``components()`` method) names its own
  parts; skips are real identity modules (``skip.{l}.{i}``).
- ``diffusers.UNet2DModel`` (and the same down/mid/up layout, e.g.
  ``UNet2DConditionModel``) gets names derived from its attribute paths:
  ``in_conv``, ``down.{i}``, ``down.{i}.resnets.{j}``, ``down.{i}.attentions.{j}``,
  ``down.{i}.downsamplers.0``, ``mid``, ``mid.resnets.{j}``, ``mid.attentions.{j}``,
  ``up.{i}``, ``up.{i}.resnets.{j}``, ``up.{i}.attentions.{j}``,
  ``up.{i}.upsamplers.0``, ``out`` and one ``skip.{k}`` per entry of the down
  path's residual stack (k = index in that stack; ``skip.0`` is ``conv_in``'s
  output). diffusers has no module a skip passes through, so each skip gets a
  detached identity :class:`SkipSlot`; it sees traffic only inside
  :func:`route_skips`, which a forward pre-hook on the consuming up block
  implements by passing every tensor of ``res_hidden_states_tuple`` through
  its slot. :func:`difflab.analysis.intervene` and
  :func:`difflab.analysis.measure_component_cost` enter it for you.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

from torch import Tensor, nn

from difflab.errors import DifflabError


class SkipSlot(nn.Module):
    """Identity stand-in for one diffusers skip tensor (not a child of the model).

    Args:
        consumer: the up block that concatenates this skip.
        position: index of the skip in the consumer's ``res_hidden_states_tuple``.
        index: index k of the skip in the down path's residual stack.
    """

    def __init__(self, consumer: nn.Module, position: int, index: int) -> None:
        super().__init__()
        # Kept out of ``_modules`` so the slot never claims the up block as a child.
        object.__setattr__(self, "consumer", consumer)
        self.position, self.index = position, index

    def forward(self, x: Tensor) -> Tensor:
        """Return the skip tensor ``(B, C, H, W)`` unchanged."""
        return x

    def extra_repr(self) -> str:
        return f"index={self.index}, position={self.position}"


def _is_diffusers_unet(model: nn.Module) -> bool:
    return all(hasattr(model, a) for a in ("down_blocks", "up_blocks", "mid_block", "conv_in"))


def _children(prefix: str, block: nn.Module) -> Iterator[tuple[str, nn.Module]]:
    """Named ResNets, attentions and resamplers of one diffusers block, in execution order."""
    res, attn = getattr(block, "resnets", None) or (), getattr(block, "attentions", None) or ()
    for j in range(max(len(res), len(attn))):  # blocks run resnets[j] then attentions[j]
        if j < len(res):
            yield f"{prefix}.resnets.{j}", res[j]
        if j < len(attn):
            yield f"{prefix}.attentions.{j}", attn[j]
    for attr in ("downsamplers", "upsamplers"):
        for j, mod in enumerate(getattr(block, attr, None) or ()):
            yield f"{prefix}.{attr}.{j}", mod


def _diffusers_registry(model: nn.Module) -> dict[str, nn.Module]:
    stack = 1 + sum(len(b.resnets) + len(getattr(b, "downsamplers", None) or ()) for b in model.down_blocks)
    consumed = sum(len(b.resnets) for b in model.up_blocks)
    if stack != consumed:
        raise DifflabError(
            f"cannot map skips of {type(model).__name__}: the down path stacks {stack} residuals "
            f"but the up blocks consume {consumed}; only the UNet2DModel layout is supported"
        )
    reg: dict[str, nn.Module] = {"in_conv": model.conv_in}
    for i, block in enumerate(model.down_blocks):
        reg[f"down.{i}"] = block
        reg.update(_children(f"down.{i}", block))
    if model.mid_block is not None:
        reg["mid"] = model.mid_block
        reg.update(_children("mid", model.mid_block))
    end = stack
    for i, block in enumerate(model.up_blocks):
        n = len(block.resnets)
        start = end - n
        # Up blocks pop ``res_hidden_states_tuple[-1]`` first: list skips in that order.
        for p in reversed(range(n)):
            reg[f"skip.{start + p}"] = SkipSlot(block, p, start + p)
        reg[f"up.{i}"] = block
        reg.update(_children(f"up.{i}", block))
        end = start
    reg["out"] = model.conv_out
    return reg


def component_registry(model: nn.Module) -> dict[str, nn.Module]:
    """Name every addressable component of a UNet.

    Args:
        model: a ``difflab.nn.UNet`` (or any module with ``components()``) or a
            ``diffusers.UNet2DModel``-style network.

    Returns:
        Name -> module, in execution order. For diffusers skips the module is a
        :class:`SkipSlot`, active only inside :func:`route_skips`. Build the
        registry once per model and reuse it: slots are new objects per call.
    """
    if callable(getattr(model, "components", None)):
        return dict(model.components())
    if _is_diffusers_unet(model):
        return _diffusers_registry(model)
    raise DifflabError(
        f"no component registry for {type(model).__name__}: pass a difflab.nn.UNet or a diffusers UNet2DModel"
    )


def resolve(registry: dict[str, nn.Module], names: Iterable[str]) -> dict[str, nn.Module]:
    """Look up names in a registry; an unknown name raises DifflabError listing close names."""
    out = {}
    for name in names:
        if name not in registry:
            close = difflib.get_close_matches(name, list(registry), n=5, cutoff=0.5)
            hint = f"close names: {', '.join(close)}" if close else f"known: {', '.join(list(registry)[:12])}, ..."
            raise DifflabError(f"unknown component {name!r}; {hint}")
        out[name] = registry[name]
    return out


def _route_hook(slots: dict[int, SkipSlot]):
    """Pre-hook for an up block: pass each skip of ``res_hidden_states_tuple`` through its slot."""

    def hook(module: nn.Module, args: tuple, kwargs: dict[str, Any]):
        if "res_hidden_states_tuple" in kwargs:
            skips = kwargs["res_hidden_states_tuple"]
        elif len(args) > 1:
            skips = args[1]
        else:
            raise DifflabError(
                f"{type(module).__name__} was called without res_hidden_states_tuple; cannot route its skips"
            )
        routed = tuple(slots[p](s) if p in slots else s for p, s in enumerate(skips))
        if "res_hidden_states_tuple" in kwargs:
            return args, {**kwargs, "res_hidden_states_tuple": routed}
        return (args[0], routed, *args[2:]), kwargs

    return hook


@contextmanager
def route_skips(registry: dict[str, nn.Module]) -> Iterator[None]:
    """Make the registry's :class:`SkipSlot` modules see (and may replace) the skip tensors.

    A no-op for registries without slots (``difflab.nn.UNet`` skips are real
    modules). The pre-hooks are removed on exit, also on exceptions.
    """
    by_consumer: dict[int, tuple[nn.Module, dict[int, SkipSlot]]] = {}
    for mod in registry.values():
        if isinstance(mod, SkipSlot):
            by_consumer.setdefault(id(mod.consumer), (mod.consumer, {}))[1][mod.position] = mod
    with ExitStack() as stack:
        for consumer, slots in by_consumer.values():
            handle = consumer.register_forward_pre_hook(_route_hook(slots), with_kwargs=True)
            stack.callback(handle.remove)
        yield
