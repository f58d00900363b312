"""Convolutional building blocks of the UNet (DDPM / ADM layout).

ResBlock as in ADM (Dhariwal & Nichol, 2021, "use_scale_shift_norm"):
GroupNorm-SiLU-Conv, GroupNorm modulated by a scale/shift from the
conditioning embedding, SiLU, dropout, Conv, plus a residual path. The
optional ``z_dim`` adds a code's scale/shift to *both* group norms (the DMZ
"adagn" route, arXiv 2506.00136).
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from difflab.nn.norm import GroupNorm


class ResBlock(nn.Module):
    """Residual block with scale/shift conditioning.

    Args:
        in_ch: input channels.
        out_ch: output channels.
        emb_dim: width of the conditioning embedding.
        dropout: dropout probability before the second conv.
        groups: GroupNorm groups (must divide ``in_ch`` and ``out_ch``).
        z_emb_dim: 0, or width of a code embedding that adds scale/shift to both norms.
    """

    def __init__(
        self, in_ch: int, out_ch: int, emb_dim: int, *, dropout: float = 0.0, groups: int = 8, z_emb_dim: int = 0
    ) -> None:
        super().__init__()
        self.in_ch, self.out_ch = in_ch, out_ch
        self.norm1 = GroupNorm(groups, in_ch)
        self.conv1 = nn.Conv2d(in_ch, out_ch, 3, padding=1)
        self.emb_proj = nn.Sequential(nn.SiLU(), nn.Linear(emb_dim, 2 * out_ch))
        self.z_proj = nn.Sequential(nn.SiLU(), nn.Linear(z_emb_dim, 2 * (in_ch + out_ch))) if z_emb_dim > 0 else None
        self.norm2 = GroupNorm(groups, out_ch)
        self.dropout = nn.Dropout(dropout)
        self.conv2 = nn.Conv2d(out_ch, out_ch, 3, padding=1)
        self.shortcut = nn.Conv2d(in_ch, out_ch, 1) if in_ch != out_ch else nn.Identity()

    def forward(self, x: Tensor, emb: Tensor, z_emb: Tensor | None = None) -> Tensor:
        """Apply the block.

        Args:
            x: ``(B, in_ch, H, W)`` features.
            emb: ``(B, emb_dim)`` time/label embedding.
            z_emb: ``(B, z_emb_dim)`` code embedding, or None (no modulation).

        Returns:
            ``(B, out_ch, H, W)``.
        """
        scale2, shift2 = self.emb_proj(emb)[:, :, None, None].chunk(2, dim=1)
        if self.z_proj is not None and z_emb is not None:
            s1, b1, s2, b2 = self.z_proj(z_emb)[:, :, None, None].split(
                [self.in_ch, self.in_ch, self.out_ch, self.out_ch], dim=1
            )
            h = self.norm1(x, s1, b1)
            scale2, shift2 = scale2 + s2, shift2 + b2
        else:
            h = self.norm1(x)
        h = self.conv1(F.silu(h))
        h = self.norm2(h, scale2, shift2)
        h = self.conv2(self.dropout(F.silu(h)))
        return self.shortcut(x) + h


class Downsample(nn.Module):
    """Stride-2 3x3 conv: ``(B, C, H, W) -> (B, C, H/2, W/2)``."""

    def __init__(self, ch: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(ch, ch, 3, stride=2, padding=1)

    def forward(self, x: Tensor) -> Tensor:
        return self.conv(x)


class Upsample(nn.Module):
    """Nearest x2 then 3x3 conv: ``(B, C, H, W) -> (B, C, 2H, 2W)``."""

    def __init__(self, ch: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(ch, ch, 3, padding=1)

    def forward(self, x: Tensor) -> Tensor:
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))


class Skip(nn.Identity):
    """Identity that a skip tensor passes through before the decoder concatenates it.

    Exists only so that a forward hook (``skip.{l}.{i}``) can zero or replace the skip.
    """
