"""Foreign networks behind difflab's network contract ``net(x, t, *, labels, z, extra) -> out``.

:class:`DiffusersAdapter` wraps a ``diffusers.UNet2DModel``; :class:`DiffusersUNet` builds one from a
config (``network.kind: diffusers``), importing diffusers (an optional dependency) only then.

The network is fed the timestep it was trained on, k = tT − 1
(:func:`difflab.process.schedules.discrete.timestep_of`): exact at a discrete schedule's table points
(t = (k + 1)/T), and the same map for a diffusers UNet that difflab trains on a continuous schedule, so
the export to diffusers is the same table read the other way.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from difflab.errors import DifflabError
from difflab.nn.components import component_registry
from difflab.process.schedules.discrete import timestep_of

# Keys of a diffusers UNet config that are bookkeeping, not constructor arguments.
_BOOKKEEPING = ("_class_name", "_diffusers_version", "_name_or_path", "_use_default_values")


class DiffusersAdapter(nn.Module):
    """``diffusers.UNet2DModel`` as a difflab network ``net(x, t, *, labels, z, extra) -> out``.

    Args:
        unet: the diffusers model (``sample_size`` = data size, channels = data channels).
        num_train_timesteps: T; the network is called with timestep tT − 1.
        null_label: the class id that stands for "no label" (``None``: a model with a class embedding
            then needs labels; a model without one ignores them).

    ``components()`` exposes the diffusers registry (blocks and skip slots), so
    :func:`difflab.analysis.intervene` can target the adapter as the root model
    and read diffusion time t in [0, 1] directly.
    """

    def __init__(self, unet: nn.Module, num_train_timesteps: int = 1000, null_label: int | None = None) -> None:
        super().__init__()
        self.unet, self.num_train_timesteps, self.null_label = unet, int(num_train_timesteps), null_label
        self._registry: dict[str, nn.Module] | None = None

    def components(self) -> dict[str, nn.Module]:
        """The diffusers registry, built once (skip slots must stay the same objects)."""
        if self._registry is None:
            self._registry = component_registry(self.unet)
        return self._registry

    def forward(
        self,
        x: Tensor,
        t: Tensor,
        *,
        labels: Tensor | None = None,
        z: Tensor | None = None,
        extra: Tensor | None = None,
    ) -> Tensor:
        """``x (B, C, H, W)``, ``t (B,)`` in [0, 1] -> ``(B, C, H, W)``; z and extra are unused."""
        class_labels = None
        if getattr(self.unet, "class_embedding", None) is not None:
            if labels is None:
                if self.null_label is None:
                    raise DifflabError("this diffusers model is class-conditional: pass labels (e.g. --labels 3,3,7)")
                labels = torch.full((x.shape[0],), self.null_label, dtype=torch.long, device=x.device)
            class_labels = labels
        # t arrives in x's dtype; snap=1e-3 undoes float32's rounding of t = (k + 1)/T (k off by up to ~1e-4)
        k = timestep_of(torch.as_tensor(t, dtype=torch.float64), self.num_train_timesteps, snap=1e-3).to(x.dtype)
        return self.unet(x, k, class_labels=class_labels).sample


def unet_config(
    in_channels: int,
    sample_size: int,
    *,
    base_channels: int = 32,
    channel_mults: tuple[int, ...] = (1, 2),
    num_res_blocks: int = 1,
    attention_levels: tuple[int, ...] = (1,),
    num_class_embeds: int | None = None,
    overrides: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A ``UNet2DModel`` config from difflab's network fields; ``overrides`` (a diffusers config) win.

    Attention levels become ``AttnDownBlock2D``/``AttnUpBlock2D``; GroupNorm groups are the largest
    of 32, 16, 8, … that divides ``base_channels``.
    """
    chans = [base_channels * m for m in channel_mults]
    groups = next(g for g in (32, 16, 8, 4, 2, 1) if all(c % g == 0 for c in chans))
    down = ["AttnDownBlock2D" if i in attention_levels else "DownBlock2D" for i in range(len(chans))]
    up = ["AttnUpBlock2D" if i in attention_levels else "UpBlock2D" for i in reversed(range(len(chans)))]
    cfg: dict[str, Any] = dict(
        sample_size=sample_size,
        in_channels=in_channels,
        out_channels=in_channels,
        block_out_channels=chans,
        layers_per_block=num_res_blocks,
        down_block_types=down,
        up_block_types=up,
        norm_num_groups=groups,
        num_class_embeds=num_class_embeds,
    )
    cfg.update({k: v for k, v in (overrides or {}).items() if k not in _BOOKKEEPING})
    cfg.update(in_channels=in_channels, sample_size=sample_size)
    return cfg


def make_unet(config: dict[str, Any]) -> nn.Module:
    """``diffusers.UNet2DModel.from_config(config)``, with one-line errors for what a user can get wrong."""
    try:
        from diffusers import UNet2DModel
    except ImportError:
        msg = "network.kind 'diffusers' needs the diffusers package: pip install 'difflab[diffusers]'"
        raise DifflabError(msg) from None
    try:
        return UNet2DModel.from_config({k: v for k, v in config.items() if k not in _BOOKKEEPING})
    except (ValueError, TypeError, KeyError) as exc:
        raise DifflabError(f"diffusers cannot build this UNet2DModel config: {str(exc).splitlines()[0]}") from None


class DiffusersUNet(DiffusersAdapter):
    """``network.kind: diffusers``: a ``diffusers.UNet2DModel`` built from difflab's fields or its own config.

    Args:
        in_channels: data channels.
        sample_size: data height (= width).
        base_channels, channel_mults, num_res_blocks, attention_levels: as for difflab's UNet.
        num_classes: 0 unconditional; else labels ``[0, num_classes)`` plus the null label ``num_classes``
            (for label dropout), unless ``diffusers`` sets ``num_class_embeds`` itself (an imported model:
            no null label).
        num_train_timesteps: T of the timestep map.
        diffusers: a ``UNet2DModel`` config (e.g. an imported checkpoint's), overriding the fields above.
    """

    def __init__(
        self,
        in_channels: int,
        sample_size: int,
        base_channels: int = 32,
        channel_mults: tuple[int, ...] = (1, 2),
        num_res_blocks: int = 1,
        attention_levels: tuple[int, ...] = (1,),
        num_classes: int = 0,
        num_train_timesteps: int = 1000,
        diffusers: dict[str, Any] | None = None,
    ) -> None:
        imported = bool(diffusers) and diffusers.get("num_class_embeds") is not None
        embeds = None if imported or not num_classes else num_classes + 1
        cfg = unet_config(
            in_channels,
            sample_size,
            base_channels=base_channels,
            channel_mults=tuple(channel_mults),
            num_res_blocks=num_res_blocks,
            attention_levels=tuple(attention_levels),
            num_class_embeds=embeds,
            overrides=diffusers,
        )
        null = None if imported or not num_classes else num_classes
        super().__init__(make_unet(cfg), num_train_timesteps, null_label=null)
