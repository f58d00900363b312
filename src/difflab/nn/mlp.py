"""Residual MLP denoiser for vector data ``(B, D)`` (2-D toys, low-dimensional data).

Same call signature as the UNet. Conditioning (time, labels, code z) is one
embedding that modulates every block by scale/shift. ``extra`` (generator noise
ξ of a distributional denoiser, De Bortoli et al., arXiv 2502.02483) is
concatenated to the input, as the paper does for 2-D MLPs.
The output layer is not zero-initialised (an untrained net depends on its inputs).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from difflab.errors import DifflabError
from difflab.nn.embeddings import CondEmbedding, broadcast_time, check_conditioning


class MLPBlock(nn.Module):
    """``x + Linear(Dropout(SiLU(Linear(SiLU(LN(x) * (1 + s) + b)))))``, ``(B, H) -> (B, H)``."""

    def __init__(self, hidden: int, emb_dim: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(hidden)
        self.emb_proj = nn.Sequential(nn.SiLU(), nn.Linear(emb_dim, 2 * hidden))
        self.fc1 = nn.Linear(hidden, hidden)
        self.dropout = nn.Dropout(dropout)
        self.fc2 = nn.Linear(hidden, hidden)

    def forward(self, x: Tensor, emb: Tensor) -> Tensor:
        scale, shift = self.emb_proj(emb).chunk(2, dim=-1)
        h = torch.nn.functional.silu(self.norm(x) * (1 + scale) + shift)
        return x + self.fc2(self.dropout(torch.nn.functional.silu(self.fc1(h))))


class MLP(nn.Module):
    """Residual MLP with time/label/z/extra conditioning.

    Components (also attribute paths): ``in``, ``block.{i}``, ``out``.

    Args:
        dim: data dimension D.
        hidden: hidden width.
        depth: number of residual blocks.
        num_classes: 0 for unconditional; else labels in ``[0, num_classes]``, ``num_classes`` = null.
        extra_dim: size of ``extra`` concatenated to ``x``.
        z_dim: size of a code z added to the conditioning embedding.
        dropout: dropout inside each block.
    """

    def __init__(self, *, dim: int, hidden: int = 256, depth: int = 4, num_classes: int = 0, extra_dim: int = 0,
                 z_dim: int = 0, dropout: float = 0.0) -> None:
        super().__init__()
        if dim < 1 or hidden < 1 or depth < 1:
            raise DifflabError(f"MLP needs dim, hidden, depth >= 1, got dim={dim}, hidden={hidden}, depth={depth}")
        if num_classes < 0 or extra_dim < 0 or z_dim < 0:
            raise DifflabError("num_classes, extra_dim and z_dim must be >= 0")
        self.config = dict(dim=dim, hidden=hidden, depth=depth, num_classes=num_classes, extra_dim=extra_dim,
                           z_dim=z_dim, dropout=dropout)
        self.dim, self.extra_dim, self.num_classes, self.z_dim = dim, extra_dim, num_classes, z_dim
        self.cond = CondEmbedding(hidden, hidden, num_classes=num_classes, z_dim=z_dim)
        self.add_module("in", nn.Linear(dim + extra_dim, hidden))  # "in" is a keyword: no attribute syntax
        self.block = nn.ModuleList([MLPBlock(hidden, hidden, dropout) for _ in range(depth)])
        self.out = nn.Sequential(nn.LayerNorm(hidden), nn.SiLU(), nn.Linear(hidden, dim))

    def components(self) -> dict[str, nn.Module]:
        """Named components in execution order: ``in``, ``block.{i}``, ``out``."""
        names = ["in", *(f"block.{i}" for i in range(len(self.block))), "out"]
        return {name: self.get_submodule(name) for name in names}

    def forward(self, x: Tensor, t: Tensor | float, *, labels: Tensor | None = None, z: Tensor | None = None,
                extra: Tensor | None = None) -> Tensor:
        """Run the network.

        Args:
            x: ``(B, dim)``.
            t: ``(B,)`` (or scalar) times in [0, 1].
            labels: ``(B,)`` int64 or None (null label).
            z: ``(B, z_dim)`` or None.
            extra: ``(B, extra_dim)``; required iff ``extra_dim > 0``.

        Returns:
            ``(B, dim)``.
        """
        if x.ndim != 2 or x.shape[1] != self.dim:
            raise DifflabError(f"MLP expects x of shape (B, {self.dim}), got {tuple(x.shape)}")
        if self.extra_dim and (extra is None or tuple(extra.shape) != (x.shape[0], self.extra_dim)):
            got = None if extra is None else tuple(extra.shape)
            raise DifflabError(f"MLP was built with extra_dim={self.extra_dim}: pass extra of shape "
                               f"({x.shape[0]}, {self.extra_dim}), got {got}")
        if not self.extra_dim and extra is not None:
            raise DifflabError("extra was given but the MLP was built with extra_dim=0")
        check_conditioning(x.shape[0], labels, z, num_classes=self.num_classes, z_dim=self.z_dim)
        inp = self._modules["in"]
        dtype = inp.weight.dtype
        h = inp((x if extra is None else torch.cat([x, extra], dim=-1)).to(dtype))
        emb = self.cond(broadcast_time(t, x.shape[0], x.device), labels, z)
        for block in self.block:
            h = block(h, emb)
        return self.out(h)
