"""Time, label and code embeddings shared by the UNet and the MLP.

The time embedding follows DDPM (Ho et al., 2020) / ADM (Dhariwal & Nichol,
2021): a sinusoidal embedding of ``1000 * t`` followed by a two-layer MLP.
Class labels are embedded with one extra "null" id (``num_classes``) used for
dropped labels (classifier-free guidance). A code ``z`` can be projected and
added to the time embedding — the route used by Diffusion-Based
Representation Learning (Abstreiter et al.) and the DMZ "time" variant
(arXiv 2506.00136).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from difflab.errors import DifflabError


def sinusoidal_embedding(t: Tensor, dim: int, *, scale: float = 1000.0) -> Tensor:
    """Sinusoidal embedding of ``scale * t`` (transformer positional style).

    Args:
        t: ``(B,)`` times, floats in [0, 1].
        dim: embedding width.
        scale: multiplies ``t`` so that frequencies match the DDPM step index.

    Returns:
        ``(B, dim)`` float32 embedding, ``[cos, sin]`` halves (zero-padded if odd).
    """
    half = dim // 2
    # float32 regardless of autocast / parameter dtype: bf16 cannot resolve 1000*t phases.
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, device=t.device, dtype=torch.float32) / half)
    args = scale * t.float()[:, None] * freqs[None]
    emb = torch.cat([torch.cos(args), torch.sin(args)], dim=-1)
    if dim % 2:
        emb = nn.functional.pad(emb, (0, 1))
    return emb


def broadcast_time(t: Tensor | float, batch: int, device: torch.device) -> Tensor:
    """Turn a scalar or ``(B,)`` time into a ``(B,)`` float tensor on ``device``.

    Raises:
        DifflabError: if ``t`` has any other shape.
    """
    t = torch.as_tensor(t, device=device)
    if t.ndim == 0:
        return t.expand(batch)
    if t.shape != (batch,):
        raise DifflabError(
            f"t must be a scalar or have shape ({batch},), got {tuple(t.shape)}; pass one time per sample"
        )
    return t


class CondEmbedding(nn.Module):
    """Time embedding plus optional class-label and code embeddings, summed.

    Args:
        base_dim: width of the sinusoidal embedding.
        emb_dim: width of the output embedding.
        num_classes: 0 for unconditional; else ``num_classes + 1`` rows, the last
            being the "null" label used when labels are dropped or absent.
        z_dim: 0, or the size of a code ``z`` projected and added to the embedding.
    """

    def __init__(self, base_dim: int, emb_dim: int, *, num_classes: int = 0, z_dim: int = 0) -> None:
        super().__init__()
        self.base_dim = base_dim
        self.num_classes = num_classes
        self.time_mlp = nn.Sequential(nn.Linear(base_dim, emb_dim), nn.SiLU(), nn.Linear(emb_dim, emb_dim))
        self.label_emb = nn.Embedding(num_classes + 1, emb_dim) if num_classes > 0 else None
        self.z_proj = (
            nn.Sequential(nn.Linear(z_dim, emb_dim), nn.SiLU(), nn.Linear(emb_dim, emb_dim)) if z_dim > 0 else None
        )

    def forward(self, t: Tensor, labels: Tensor | None = None, z: Tensor | None = None) -> Tensor:
        """Embed the conditioning.

        Args:
            t: ``(B,)`` times in [0, 1].
            labels: ``(B,)`` int64 in ``[0, num_classes]`` or None (all null).
            z: ``(B, z_dim)`` or None (no code: nothing added).

        Returns:
            ``(B, emb_dim)`` embedding in the parameters' dtype.
        """
        dtype = self.time_mlp[0].weight.dtype
        emb = self.time_mlp(sinusoidal_embedding(t, self.base_dim).to(dtype))
        if self.label_emb is not None:
            if labels is None:
                labels = torch.full((t.shape[0],), self.num_classes, dtype=torch.long, device=t.device)
            emb = emb + self.label_emb(labels.long())
        if self.z_proj is not None and z is not None:
            emb = emb + self.z_proj(z.to(dtype))
        return emb


def check_conditioning(batch: int, labels: Tensor | None, z: Tensor | None, *, num_classes: int, z_dim: int) -> None:
    """Validate label and code arguments against a network's configuration.

    Raises:
        DifflabError: labels or z given to a network built without them, or of the wrong shape.
    """
    if labels is not None:
        if num_classes == 0:
            raise DifflabError("labels were given but the network is unconditional; build it with num_classes > 0")
        if labels.shape != (batch,):
            raise DifflabError(f"labels must have shape ({batch},), got {tuple(labels.shape)}")
    if z is not None:
        if z_dim == 0:
            raise DifflabError("z was given but the network was built with z_dim=0; set z_dim to the code size")
        if z.shape != (batch, z_dim):
            raise DifflabError(f"z must have shape ({batch}, {z_dim}), got {tuple(z.shape)}")
