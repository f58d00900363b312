"""What a component's output becomes when it is skipped: its bypass, computed without the component.

Prasad et al. (arXiv 2312.14965) *eliminate* UNet blocks and skip connections
over ranges of time steps and remove the redundant ones at inference. In a
residual UNet, eliminating a block naturally means keeping the stream that
goes around it:

- residual block (``difflab`` ``ResBlock``, diffusers ``ResnetBlock2D``):
  ``shortcut(x)`` — the identity, or the 1x1 projection when the width
  changes (diffusers also divides by ``output_scale_factor``);
- attention block (``difflab`` ``AttentionBlock``, diffusers ``Attention``
  with a residual connection): the identity (diffusers: ``x / rescale_output_factor``);
- skip connection (``skip.*``, diffusers skip slots): zeros — dropping a skip
  means the decoder gets nothing from it.

Resamplers, the stem and the output head change shape or are the only path,
so they have no bypass and are refused. "Zero the whole output" (shortcut
included) is :class:`difflab.analysis.interventions.Remove`, kept as the
``zero`` removal variant.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

from difflab.errors import DifflabError
from difflab.nn.attention import AttentionBlock
from difflab.nn.blocks import ResBlock
from difflab.nn.blocks import Skip as SkipConnection
from difflab.nn.components import SkipSlot


def _first_tensor(args: tuple, kwargs: dict, names: tuple[str, ...]) -> Tensor:
    if args:
        return args[0]
    for n in names:
        if n in kwargs:
            return kwargs[n]
    raise DifflabError(f"cannot find the input tensor among {list(kwargs)}")


def _diffusers_resnet(module: nn.Module) -> Callable[[Tensor], Tensor]:
    if getattr(module, "upsample", None) is not None or getattr(module, "downsample", None) is not None:
        raise DifflabError("a resampling ResnetBlock2D has no shape-preserving bypass; skip its siblings instead")
    shortcut = module.conv_shortcut

    def bypass(x: Tensor) -> Tensor:
        return (shortcut(x) if shortcut is not None else x) / module.output_scale_factor

    return bypass


def _diffusers_attention(module: nn.Module) -> Callable[[Tensor], Tensor]:
    if not module.residual_connection:
        raise DifflabError("a diffusers Attention without residual_connection has no bypass")
    return lambda x: x / module.rescale_output_factor


def bypass_fn(module: nn.Module) -> Callable[[tuple, dict], Any]:
    """The function ``(args, kwargs) -> output`` that replaces ``module`` when it is skipped.

    Raises:
        DifflabError: if the module has no bypass (resamplers, stem, head, whole diffusers blocks).
    """
    if isinstance(module, ResBlock):
        return lambda args, kwargs: module.shortcut(_first_tensor(args, kwargs, ("x",)))
    if isinstance(module, AttentionBlock):
        return lambda args, kwargs: _first_tensor(args, kwargs, ("x",))
    if isinstance(module, SkipConnection | SkipSlot):
        return lambda args, kwargs: torch.zeros_like(_first_tensor(args, kwargs, ("x", "input")))
    kind = type(module).__name__
    if kind == "ResnetBlock2D":
        f = _diffusers_resnet(module)
        return lambda args, kwargs: f(_first_tensor(args, kwargs, ("input_tensor",)))
    if kind == "Attention":
        f = _diffusers_attention(module)
        return lambda args, kwargs: f(_first_tensor(args, kwargs, ("hidden_states",)))
    raise DifflabError(
        f"{kind} has no bypass to skip to (it changes shape or is the only path); "
        f"Skip works on residual blocks, attention blocks and skip connections"
    )
