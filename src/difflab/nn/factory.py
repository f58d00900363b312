"""Build a network from a kind name and the data shape (the config's entry point)."""

from __future__ import annotations

import inspect
from typing import Literal

from torch import nn

from difflab.errors import DifflabError
from difflab.nn.adapters import DiffusersUNet
from difflab.nn.mlp import MLP
from difflab.nn.unet import UNet

_KINDS: dict[str, tuple[type[nn.Module], int, str]] = {
    # kind -> (class, expected data rank, constructor argument filled from data_shape[0])
    "unet": (UNet, 3, "in_channels"),
    "mlp": (MLP, 1, "dim"),
    "diffusers": (DiffusersUNet, 3, "in_channels"),  # a diffusers.UNet2DModel (optional dependency)
}


def build_network(kind: Literal["unet", "mlp", "diffusers"], data_shape: tuple[int, ...], **kwargs) -> nn.Module:
    """Build a UNet for ``(C, H, W)`` data or an MLP for ``(D,)`` data.

    Args:
        kind: ``"unet"``, ``"mlp"`` or ``"diffusers"`` (a ``diffusers.UNet2DModel``, square images).
        data_shape: shape of one sample, without the batch dimension.
        **kwargs: constructor arguments of the network, other than the one set by ``data_shape``.

    Returns:
        The network.

    Raises:
        DifflabError: unknown kind, a shape of the wrong rank, unknown or conflicting arguments,
            or an image size the UNet cannot downsample.
    """
    if kind not in _KINDS:
        raise DifflabError(f"unknown network kind {kind!r}; choose one of {sorted(_KINDS)}")
    cls, rank, size_arg = _KINDS[kind]
    data_shape = tuple(int(s) for s in data_shape)
    if len(data_shape) != rank:
        want = "(C, H, W)" if rank == 3 else "(D,)"
        hint = "use kind='mlp' for vectors" if kind == "unet" else "use kind='unet' for images"
        raise DifflabError(f"network kind {kind!r} needs data of shape {want}, got {data_shape}; {hint}")
    if kind == "diffusers":
        if data_shape[1] != data_shape[2]:
            raise DifflabError(f"network kind 'diffusers' needs square images, got {data_shape}")
        kwargs["sample_size"] = data_shape[1]
    allowed = [p for p in inspect.signature(cls.__init__).parameters if p not in ("self", size_arg)]
    unknown = sorted(set(kwargs) - set(allowed) - {size_arg})
    if unknown:
        raise DifflabError(f"unknown {kind} argument(s) {unknown}; valid: {allowed}")
    if size_arg in kwargs and kwargs[size_arg] != data_shape[0]:
        raise DifflabError(f"{size_arg}={kwargs[size_arg]} conflicts with data shape {data_shape}; drop {size_arg}")
    kwargs[size_arg] = data_shape[0]
    net = cls(**kwargs)
    if kind == "unet":
        net.check_input_size(data_shape[1], data_shape[2])
    return net


def count_parameters(module: nn.Module, *, trainable_only: bool = False) -> int:
    """Number of (unique) parameters in ``module``, optionally only those with ``requires_grad``."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable_only)
