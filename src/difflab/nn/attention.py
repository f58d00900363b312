"""Self-attention over feature maps, with optional cross-attention to context tokens.

Self-attention follows DDPM/ADM (GroupNorm, multi-head attention over the
H*W positions, output projection, residual). Cross-attention is the DMZ
conditioning route (Proszewska et al., arXiv 2506.00136): queries come from
the features, keys and values *only* from the context tokens (the code z
token and a learned null token, assembled by the UNet).
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from difflab.nn.norm import GroupNorm


def _heads(x: Tensor, heads: int) -> Tensor:
    """``(B, N, C) -> (B, heads, N, C // heads)``."""
    b, n, c = x.shape
    return x.view(b, n, heads, c // heads).transpose(1, 2)


def _merge(x: Tensor) -> Tensor:
    """``(B, heads, N, d) -> (B, N, heads * d)``."""
    b, h, n, d = x.shape
    return x.transpose(1, 2).reshape(b, n, h * d)


class CrossAttention(nn.Module):
    """Features attend to context tokens; keys/values come only from the context.

    Args:
        channels: feature channels C (divisible by ``heads``).
        context_dim: width of each context token.
        heads: attention heads.
        groups: GroupNorm groups for the query normalisation.
    """

    def __init__(self, channels: int, context_dim: int, *, heads: int = 4, groups: int = 8) -> None:
        super().__init__()
        self.heads = heads
        self.norm = GroupNorm(groups, channels)
        self.q = nn.Linear(channels, channels)
        self.kv = nn.Linear(context_dim, 2 * channels)
        self.proj = nn.Linear(channels, channels)

    def forward(self, x: Tensor, context: Tensor) -> Tensor:
        """``x (B, C, H, W)``, ``context (B, T, context_dim)`` -> ``(B, C, H, W)`` (residual added)."""
        b, c, hh, ww = x.shape
        q = self.q(self.norm(x).flatten(2).transpose(1, 2))
        k, v = self.kv(context).chunk(2, dim=-1)
        # Under autocast the norm's output may be fp32 while the linears give bf16: align dtypes.
        k, v = k.to(q.dtype), v.to(q.dtype)
        attn = F.scaled_dot_product_attention(_heads(q, self.heads), _heads(k, self.heads), _heads(v, self.heads))
        out = self.proj(_merge(attn))
        return x + out.transpose(1, 2).reshape(b, c, hh, ww).to(x.dtype)


class AttentionBlock(nn.Module):
    """Multi-head self-attention over positions, then optional cross-attention.

    Args:
        channels: feature channels C (divisible by ``heads``).
        heads: attention heads.
        groups: GroupNorm groups.
        context_dim: 0 for self-attention only; else width of context tokens for cross-attention.
    """

    def __init__(self, channels: int, *, heads: int = 4, groups: int = 8, context_dim: int = 0) -> None:
        super().__init__()
        self.heads = heads
        self.norm = GroupNorm(groups, channels)
        self.qkv = nn.Linear(channels, 3 * channels)
        self.proj = nn.Linear(channels, channels)
        self.cross = CrossAttention(channels, context_dim, heads=heads, groups=groups) if context_dim > 0 else None

    def forward(self, x: Tensor, context: Tensor | None = None) -> Tensor:
        """Apply attention.

        Args:
            x: ``(B, C, H, W)`` features.
            context: ``(B, T, context_dim)`` tokens, or None to skip the cross-attention.

        Returns:
            ``(B, C, H, W)``.
        """
        b, c, hh, ww = x.shape
        tokens = self.norm(x).flatten(2).transpose(1, 2)
        q, k, v = (_heads(u, self.heads) for u in self.qkv(tokens).chunk(3, dim=-1))
        out = self.proj(_merge(F.scaled_dot_product_attention(q, k, v)))
        x = x + out.transpose(1, 2).reshape(b, c, hh, ww).to(x.dtype)
        if self.cross is not None and context is not None:  # None: a single-token model called without z
            x = self.cross(x, context)
        return x
