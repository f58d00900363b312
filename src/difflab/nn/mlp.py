"""Residual MLP denoiser for vector data ``(B, D)`` (2-D toys, low-dimensional data).

Same call signature as the UNet. Conditioning (time, labels, code z) is one
embedding that modulates every block by scale/shift. ``extra`` (generator noise
ξ of a distributional denoiser, De Bortoli et al., arXiv 2502.02483) is
concatenated to the input, as the paper does for 2-D MLPs, or with
``noise_injection="gated"`` added to the second half of the blocks through a
time-dependent gate (:mod:`difflab.nn.noise_injection`).
The output layer is not zero-initialised (an untrained net depends on its inputs).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from difflab.errors import DifflabError
from difflab.nn.embeddings import CondEmbedding, broadcast_time, check_conditioning
from difflab.nn.noise_injection import GatedNoise, NoiseInjection


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
        extra_dim: size of ``extra`` (generator noise ξ).
        noise_injection: ``"concat"``: ``extra`` is concatenated to ``x``; ``"gated"``: it is added,
            gated by time, before each block of the second half.
        z_dim: size of a code z added to the conditioning embedding.
        dropout: dropout inside each block.
    """

    def __init__(
        self,
        *,
        dim: int,
        hidden: int = 256,
        depth: int = 4,
        num_classes: int = 0,
        extra_dim: int = 0,
        z_dim: int = 0,
        dropout: float = 0.0,
        noise_injection: NoiseInjection = "concat",
    ) -> None:
        super().__init__()
        if noise_injection not in ("concat", "gated"):
            raise DifflabError(f"noise_injection must be 'concat' or 'gated', got {noise_injection!r}")
        if dim < 1 or hidden < 1 or depth < 1:
            raise DifflabError(f"MLP needs dim, hidden, depth >= 1, got dim={dim}, hidden={hidden}, depth={depth}")
        if num_classes < 0 or extra_dim < 0 or z_dim < 0:
            raise DifflabError("num_classes, extra_dim and z_dim must be >= 0")
        self.config = dict(
            dim=dim,
            hidden=hidden,
            depth=depth,
            num_classes=num_classes,
            extra_dim=extra_dim,
            z_dim=z_dim,
            dropout=dropout,
            noise_injection=noise_injection,
        )
        self.dim, self.extra_dim, self.num_classes, self.z_dim = dim, extra_dim, num_classes, z_dim
        self.cond = CondEmbedding(hidden, hidden, num_classes=num_classes, z_dim=z_dim)
        gated = noise_injection == "gated" and extra_dim > 0
        self.add_module(
            "in", nn.Linear(dim + (0 if gated else extra_dim), hidden)
        )  # "in" is a keyword: no attribute syntax
        self.block = nn.ModuleList([MLPBlock(hidden, hidden, dropout) for _ in range(depth)])
        self.out = nn.Sequential(nn.LayerNorm(hidden), nn.SiLU(), nn.Linear(hidden, dim))
        self.gate_from = depth // 2  # "later layers": the second half of the blocks
        self.noise_gate = (
            nn.ModuleList([GatedNoise(extra_dim, hidden, hidden, spatial=False) for _ in range(depth - self.gate_from)])
            if gated
            else None
        )

    def components(self) -> dict[str, nn.Module]:
        """Named components in execution order: ``in``, ``block.{i}``, ``out``."""
        names = ["in", *(f"block.{i}" for i in range(len(self.block))), "out"]
        return {name: self.get_submodule(name) for name in names}

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
            raise DifflabError(
                f"MLP was built with extra_dim={self.extra_dim}: pass extra of shape "
                f"({x.shape[0]}, {self.extra_dim}), got {got}"
            )
        if not self.extra_dim and extra is not None:
            raise DifflabError("extra was given but the MLP was built with extra_dim=0")
        check_conditioning(x.shape[0], labels, z, num_classes=self.num_classes, z_dim=self.z_dim)
        inp = self._modules["in"]
        dtype = inp.weight.dtype
        xi = extra if self.noise_gate is not None else None
        h = inp((x if extra is None or xi is not None else torch.cat([x, extra], dim=-1)).to(dtype))
        emb = self.cond(broadcast_time(t, x.shape[0], x.device), labels, z)
        for i, block in enumerate(self.block):
            if xi is not None and i >= self.gate_from:
                h = self.noise_gate[i - self.gate_from](h, xi, emb)
            h = block(h, emb)
        return self.out(h)
