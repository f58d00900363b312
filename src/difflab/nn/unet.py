"""UNet with named, hookable components (DDPM / ADM layout).

Layout after Ho et al. (DDPM, arXiv 2006.11239) and Dhariwal & Nichol (ADM,
arXiv 2105.05233). Every component that ablation, caching and feature
extraction address (Prasad et al., arXiv 2312.14965) is a real submodule whose
*output* is what the network uses next, so a forward hook returning a tensor
replaces it. Component names equal the modules' attribute paths
(``model.get_submodule("down.0.res.1")``):

``in_conv``, ``down.{l}.res.{i}``, ``down.{l}.attn.{i}``, ``down.{l}.downsample``,
``mid.res.0``, ``mid.attn``, ``mid.res.1``, then per decoder level
``skip.{l}.{i}`` (the skip that ``up.{l}.res.{i}`` concatenates), ``up.{l}.res.{i}``,
``up.{l}.attn.{i}``, ``up.{l}.upsample``, and ``out``. Levels count from the
highest resolution (0).

Code conditioning z (DMZ, arXiv 2506.00136), by ``z_mode``:

- ``cross_attn``: z is embedded to one context token; the attention blocks at
  ``z_levels`` and in the middle cross-attend to ``[null, z]``. The learned null
  token sits beside z so the softmax has two entries and is not trivially 1
  (with a single token, attention would reduce to a z-dependent bias). With
  ``z=None`` the context is the null token alone. The time embedding is untouched.
- ``adagn``: z's embedding adds scale/shift to both group norms of every ResBlock.
- ``time``: z is projected and added to the time embedding (also the
  Diffusion-Based Representation Learning route).
- ``time_bottleneck``: as ``time``, and z is also decoded by an MLP into a
  low-resolution feature map concatenated to the input of ``mid.res.0`` (the
  bottleneck). This is how Mittal et al. (arXiv 2210.13774, code traj_drl)
  condition the score network on E(x₀, t): both routes, at the same t.

The output conv is *not* zero-initialised, so an untrained network's output
depends on its inputs and hooks (ablation and caching tests rely on that).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from difflab.errors import DifflabError
from difflab.nn.attention import AttentionBlock
from difflab.nn.blocks import Downsample, ResBlock, Skip, Upsample
from difflab.nn.embeddings import CondEmbedding, broadcast_time, check_conditioning
from difflab.nn.noise_injection import GatedNoise, NoiseInjection
from difflab.nn.norm import GroupNorm

ZMode = Literal["cross_attn", "adagn", "time", "time_bottleneck"]
Z_MODES = ("cross_attn", "adagn", "time", "time_bottleneck")
Z_MAP_SIZE = 4  # side of the decoded code map; resized to the bottleneck's H x W


class _Level(nn.Module):
    """One resolution level: ``res``, ``attn`` (possibly empty) and an optional resampler."""

    def __init__(self, res: list[nn.Module], attn: list[nn.Module], resample_name: str, resample: nn.Module | None):
        super().__init__()
        self.res = nn.ModuleList(res)
        self.attn = nn.ModuleList(attn)
        setattr(self, resample_name, resample)


class _Mid(nn.Module):
    def __init__(self, res0: nn.Module, attn: nn.Module, res1: nn.Module) -> None:
        super().__init__()
        self.res = nn.ModuleList([res0, res1])
        self.attn = attn


def _validate(
    in_channels,
    base_channels,
    channel_mults,
    num_res_blocks,
    attention_levels,
    z_dim,
    z_mode,
    z_levels,
    norm_groups,
    heads,
    num_classes,
    extra_channels,
) -> None:
    n = len(channel_mults)
    if in_channels < 1 or base_channels < 1 or n < 1 or num_res_blocks < 1:
        raise DifflabError("UNet needs in_channels, base_channels, num_res_blocks >= 1 and a non-empty channel_mults")
    if num_classes < 0 or extra_channels < 0 or z_dim < 0:
        raise DifflabError("num_classes, extra_channels and z_dim must be >= 0")
    if z_mode not in Z_MODES:
        raise DifflabError(f"z_mode must be one of {', '.join(map(repr, Z_MODES))}, got {z_mode!r}")
    bad = [lvl for lvl in attention_levels if not 0 <= lvl < n]
    if bad:
        raise DifflabError(f"attention_levels {bad} out of range for {n} levels (valid: 0..{n - 1})")
    if z_levels is not None and not set(z_levels) <= set(attention_levels):
        raise DifflabError(f"z_levels {list(z_levels)} must be a subset of attention_levels {list(attention_levels)}")
    for ch in {base_channels * m for m in channel_mults}:
        if ch % norm_groups:
            raise DifflabError(
                f"norm_groups={norm_groups} must divide every level's channels (got {ch}); "
                "change base_channels or norm_groups"
            )
    for lvl in list(attention_levels) + [n - 1]:
        if (base_channels * channel_mults[lvl]) % heads:
            raise DifflabError(f"heads={heads} must divide the attention channels {base_channels * channel_mults[lvl]}")


class UNet(nn.Module):
    """Time-conditional UNet for ``(B, C, H, W)`` data; see the module docstring for names and z modes.

    Args:
        in_channels: data channels C.
        out_channels: output channels (default ``in_channels``).
        base_channels: channels at level 0 before multipliers.
        channel_mults: per-level channel multipliers; ``len - 1`` downsamplings.
        num_res_blocks: ResBlocks per encoder level (decoder levels get one more).
        attention_levels: levels with self-attention (the middle always has it).
        dropout: dropout in every ResBlock.
        num_classes: 0 for unconditional; else labels in ``[0, num_classes]``, ``num_classes`` = null.
        extra_channels: channels of ``extra`` (generator noise ξ, shaped like ``x``).
        noise_injection: ``"concat"`` feeds ``extra`` as input channels; ``"gated"`` adds it at the
            start of every decoder level through a time-dependent gate (:mod:`difflab.nn.noise_injection`).
        z_dim: size of the code z (0: none).
        z_mode: how z conditions the network.
        z_levels: levels whose attention blocks cross-attend to z (default: all attention levels).
        z_null_token: ``cross_attn`` context is ``[null, z]`` (True) or the paper's ``[z]`` alone (False).
        norm_groups: GroupNorm groups.
        heads: attention heads.

    On the CPU the features run channels-last (NHWC) after ``in_conv``: the same function to float
    rounding, faster convolutions. Forward hooks see channels-last tensors there (``.reshape``, not
    ``.view``); set the class attribute ``cpu_channels_last = False`` to turn it off.
    """

    # Not a config field: a memory layout, not part of the model's function or its checkpoints.
    cpu_channels_last: bool = True

    def __init__(
        self,
        *,
        in_channels: int,
        out_channels: int | None = None,
        base_channels: int = 32,
        channel_mults: Sequence[int] = (1, 2, 2),
        num_res_blocks: int = 2,
        attention_levels: Sequence[int] = (1,),
        dropout: float = 0.0,
        num_classes: int = 0,
        extra_channels: int = 0,
        z_dim: int = 0,
        z_mode: ZMode = "cross_attn",
        z_levels: Sequence[int] | None = None,
        z_null_token: bool = True,
        norm_groups: int = 8,
        heads: int = 4,
        noise_injection: NoiseInjection = "concat",
    ) -> None:
        super().__init__()
        if noise_injection not in ("concat", "gated"):
            raise DifflabError(f"noise_injection must be 'concat' or 'gated', got {noise_injection!r}")
        attention_levels = tuple(attention_levels)
        _validate(
            in_channels,
            base_channels,
            channel_mults,
            num_res_blocks,
            attention_levels,
            z_dim,
            z_mode,
            z_levels,
            norm_groups,
            heads,
            num_classes,
            extra_channels,
        )
        out_channels = out_channels or in_channels
        z_levels = attention_levels if z_levels is None else tuple(z_levels)
        self.config = dict(
            in_channels=in_channels,
            out_channels=out_channels,
            base_channels=base_channels,
            channel_mults=tuple(channel_mults),
            num_res_blocks=num_res_blocks,
            attention_levels=attention_levels,
            dropout=dropout,
            num_classes=num_classes,
            extra_channels=extra_channels,
            z_dim=z_dim,
            z_mode=z_mode,
            z_levels=z_levels,
            z_null_token=z_null_token,
            norm_groups=norm_groups,
            heads=heads,
            noise_injection=noise_injection,
        )
        self.in_channels, self.out_channels, self.extra_channels = in_channels, out_channels, extra_channels
        self.num_classes, self.z_dim, self.z_mode = num_classes, z_dim, z_mode
        self.num_levels, self.num_res_blocks = len(channel_mults), num_res_blocks
        emb_dim = 4 * base_channels
        use_z = z_dim > 0
        in_time = z_mode in ("time", "time_bottleneck")
        self.cond = CondEmbedding(base_channels, emb_dim, num_classes=num_classes, z_dim=z_dim if in_time else 0)
        # Shared code embedding for the cross-attention token / per-block AdaGN projections.
        self.z_embed = (
            nn.Sequential(nn.Linear(z_dim, emb_dim), nn.SiLU(), nn.Linear(emb_dim, emb_dim))
            if use_z and not in_time
            else None
        )
        # time_bottleneck: z -> (base_channels, 4, 4) map, concatenated before mid.res.0.
        self.z_map_channels = base_channels if use_z and z_mode == "time_bottleneck" else 0
        self.z_map = (
            nn.Sequential(nn.Linear(z_dim, emb_dim), nn.SiLU(), nn.Linear(emb_dim, self.z_map_channels * Z_MAP_SIZE**2))
            if self.z_map_channels
            else None
        )
        with_null = use_z and z_mode == "cross_attn" and z_null_token
        self.null_token = nn.Parameter(0.02 * torch.randn(1, 1, emb_dim)) if with_null else None
        z_emb_dim = emb_dim if use_z and z_mode == "adagn" else 0

        def res(i: int, o: int) -> ResBlock:
            return ResBlock(i, o, emb_dim, dropout=dropout, groups=norm_groups, z_emb_dim=z_emb_dim)

        def attn(ch: int, level: int | None) -> AttentionBlock:
            cross = use_z and z_mode == "cross_attn" and (level is None or level in z_levels)
            return AttentionBlock(ch, heads=heads, groups=norm_groups, context_dim=emb_dim if cross else 0)

        chans = [base_channels * m for m in channel_mults]
        last = self.num_levels - 1
        gated = noise_injection == "gated" and extra_channels > 0
        self.in_conv = nn.Conv2d(in_channels + (0 if gated else extra_channels), base_channels, 3, padding=1)
        # Gated ξ enters each decoder level (level l sees the channels of level min(l + 1, last)).
        self.noise_gate = (
            nn.ModuleList(
                [
                    GatedNoise(extra_channels, chans[min(lvl + 1, last)], emb_dim, spatial=True)
                    for lvl in range(self.num_levels)
                ]
            )
            if gated
            else None
        )
        skip_chs, ch = [base_channels], base_channels
        down = []
        for lvl, c in enumerate(chans):
            blocks, attns = [], []
            for _ in range(num_res_blocks):
                blocks.append(res(ch, c))
                ch = c
                if lvl in attention_levels:
                    attns.append(attn(ch, lvl))
                skip_chs.append(ch)
            down.append(_Level(blocks, attns, "downsample", Downsample(ch) if lvl < last else None))
            if lvl < last:
                skip_chs.append(ch)
        self.down = nn.ModuleList(down)
        self.mid = _Mid(res(ch + self.z_map_channels, ch), attn(ch, None), res(ch, ch))
        up: list[nn.Module] = [nn.Module()] * self.num_levels
        skips: list[nn.Module] = [nn.Module()] * self.num_levels
        for lvl in reversed(range(self.num_levels)):
            blocks, attns = [], []
            for _ in range(num_res_blocks + 1):
                blocks.append(res(ch + skip_chs.pop(), chans[lvl]))
                ch = chans[lvl]
                if lvl in attention_levels:
                    attns.append(attn(ch, lvl))
            up[lvl] = _Level(blocks, attns, "upsample", Upsample(ch) if lvl > 0 else None)
            skips[lvl] = nn.ModuleList([Skip() for _ in range(num_res_blocks + 1)])
        self.skip = nn.ModuleList(skips)
        self.up = nn.ModuleList(up)
        self.out = nn.Sequential(GroupNorm(norm_groups, ch), nn.SiLU(), nn.Conv2d(ch, out_channels, 3, padding=1))

    @property
    def size_divisor(self) -> int:
        """H and W must be multiples of this (``2 ** (len(channel_mults) - 1)``)."""
        return 2 ** (self.num_levels - 1)

    def check_input_size(self, height: int, width: int) -> None:
        """Raise DifflabError unless ``height`` and ``width`` are divisible by :attr:`size_divisor`."""
        d = self.size_divisor
        if height % d or width % d:
            raise DifflabError(
                f"input size {height}x{width} is not divisible by {d} "
                f"(2**(len(channel_mults)-1)); resize/pad the data or use fewer levels"
            )

    def components(self) -> dict[str, nn.Module]:
        """Named components in execution order; each name is also the module's attribute path."""
        names = ["in_conv"]
        for lvl, level in enumerate(self.down):
            for i in range(len(level.res)):
                names.append(f"down.{lvl}.res.{i}")
                if len(level.attn):
                    names.append(f"down.{lvl}.attn.{i}")
            if level.downsample is not None:
                names.append(f"down.{lvl}.downsample")
        names += ["mid.res.0", "mid.attn", "mid.res.1"]
        for lvl in reversed(range(self.num_levels)):
            level = self.up[lvl]
            for i in range(len(level.res)):
                names += [f"skip.{lvl}.{i}", f"up.{lvl}.res.{i}"]
                if len(level.attn):
                    names.append(f"up.{lvl}.attn.{i}")
            if level.upsample is not None:
                names.append(f"up.{lvl}.upsample")
        names.append("out")
        return {name: self.get_submodule(name) for name in names}

    def _check_inputs(self, x: Tensor, extra: Tensor | None) -> None:
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise DifflabError(f"UNet expects x of shape (B, {self.in_channels}, H, W), got {tuple(x.shape)}")
        self.check_input_size(x.shape[2], x.shape[3])
        want = (x.shape[0], self.extra_channels, *x.shape[2:])
        if self.extra_channels and (extra is None or tuple(extra.shape) != want):
            got = None if extra is None else tuple(extra.shape)
            raise DifflabError(
                f"UNet was built with extra_channels={self.extra_channels}: pass extra of shape {want}, got {got}"
            )
        if not self.extra_channels and extra is not None:
            raise DifflabError("extra was given but the UNet was built with extra_channels=0")

    def _code_map(self, z: Tensor | None, h: Tensor) -> Tensor:
        """Z decoded to ``(B, z_map_channels, H, W)`` at the bottleneck's size (zeros without a code)."""
        b, _, hh, ww = h.shape
        if z is None:
            return h.new_zeros(b, self.z_map_channels, hh, ww)
        m = self.z_map(z.to(h.dtype)).view(b, self.z_map_channels, Z_MAP_SIZE, Z_MAP_SIZE)
        return m if (hh, ww) == (Z_MAP_SIZE, Z_MAP_SIZE) else F.interpolate(m, size=(hh, ww), mode="nearest")

    def forward(
        self,
        x: Tensor,
        t: Tensor | float,
        *,
        labels: Tensor | None = None,
        z: Tensor | None = None,
        extra: Tensor | None = None,
    ) -> Tensor:
        """Run the network.

        Args:
            x: ``(B, in_channels, H, W)``.
            t: ``(B,)`` (or scalar) times in [0, 1].
            labels: ``(B,)`` int64 in ``[0, num_classes]`` or None (null label).
            z: ``(B, z_dim)`` code or None (no code).
            extra: ``(B, extra_channels, H, W)``; required iff ``extra_channels > 0``.

        Returns:
            ``(B, out_channels, H, W)``.
        """
        self._check_inputs(x, extra)
        check_conditioning(x.shape[0], labels, z, num_classes=self.num_classes, z_dim=self.z_dim)
        dtype = self.in_conv.weight.dtype
        xi = extra if self.noise_gate is not None else None
        x = x.to(dtype) if extra is None or xi is not None else torch.cat([x, extra], dim=1).to(dtype)
        z_time = z if self.z_mode in ("time", "time_bottleneck") else None
        emb = self.cond(broadcast_time(t, x.shape[0], x.device), labels, z_time)
        z_emb = self.z_embed(z.to(dtype)) if self.z_embed is not None and z is not None else None
        context = None
        if self.null_token is not None:
            null = self.null_token.expand(x.shape[0], -1, -1)
            context = null if z_emb is None else torch.cat([null, z_emb[:, None].to(null.dtype)], dim=1)
        elif self.z_mode == "cross_attn" and z_emb is not None:
            context = z_emb[:, None]  # the paper's single token
        ada = z_emb if self.z_mode == "adagn" else None

        h = self.in_conv(x)
        if self.cpu_channels_last and h.device.type == "cpu":
            # oneDNN runs NHWC convolutions without the per-call reorders NCHW needs (1.3-1.7x per conv,
            # a small whole-step gain: BENCHMARKS.md); later ops keep the layout. After in_conv, because
            # a 1-channel x is already "contiguous" in both layouts and would not switch.
            h = h.contiguous(memory_format=torch.channels_last)
        hs = [h]
        for level in self.down:
            for i, block in enumerate(level.res):
                h = block(h, emb, ada)
                if len(level.attn):
                    h = level.attn[i](h, context)
                hs.append(h)
            if level.downsample is not None:
                h = level.downsample(h)
                hs.append(h)
        if self.z_map is not None:
            h = torch.cat([h, self._code_map(z, h)], dim=1)
        h = self.mid.res[0](h, emb, ada)
        h = self.mid.attn(h, context)
        h = self.mid.res[1](h, emb, ada)
        for lvl in reversed(range(self.num_levels)):
            level = self.up[lvl]
            if xi is not None:
                h = self.noise_gate[lvl](h, xi, emb)
            for i, block in enumerate(level.res):
                h = block(torch.cat([h, self.skip[lvl][i](hs.pop())], dim=1), emb, ada)
                if len(level.attn):
                    h = level.attn[i](h, context)
            if level.upsample is not None:
                h = level.upsample(h)
        return self.out(h).contiguous()  # callers may .view() the output: hand back the usual layout
