"""Gated injection of generator noise ξ into late layers (distributional denoisers).

De Bortoli et al. (arXiv 2502.02483) feed ξ ~ N(0, I) to the generator by
concatenating it with x_t at the input ("concat"). Later work found it better
to inject ξ into the *later* layers through a time-dependent gate ("gated"):
``h ← h + g(t) ⊙ P ξ`` with a learned projection P and a per-channel gate
g(t) = sigmoid(Linear(SiLU(emb(t)))). The gate lets the network turn the noise
up at large t (broad posterior) and down at small t (nearly deterministic).
"""

from __future__ import annotations

from typing import Literal

import torch.nn.functional as F
from torch import Tensor, nn

NoiseInjection = Literal["concat", "gated"]


class GatedNoise(nn.Module):
    """``h + g(emb) ⊙ P ξ`` for feature maps ``(B, C, H, W)`` or vectors ``(B, C)``.

    For feature maps, ξ ``(B, Cξ, H₀, W₀)`` is average-pooled to the features'
    resolution and rescaled by the pooling factor so it stays unit-variance,
    then projected by a 1x1 conv; for vectors, P is a linear map.

    Args:
        noise_dim: channels (or size) of ξ.
        feature_dim: channels (or width) of h.
        emb_dim: width of the time/conditioning embedding.
        spatial: True for ``(B, C, H, W)`` features, False for ``(B, C)``.
    """

    def __init__(self, noise_dim: int, feature_dim: int, emb_dim: int, *, spatial: bool) -> None:
        super().__init__()
        self.spatial = spatial
        self.proj = nn.Conv2d(noise_dim, feature_dim, 1) if spatial else nn.Linear(noise_dim, feature_dim)
        self.gate = nn.Sequential(nn.SiLU(), nn.Linear(emb_dim, feature_dim))

    def forward(self, h: Tensor, xi: Tensor, emb: Tensor) -> Tensor:
        """Add gated, projected noise.

        Args:
            h: features ``(B, C, H, W)`` (spatial) or ``(B, C)``.
            xi: generator noise ``(B, Cξ, H₀, W₀)`` with H₀, W₀ multiples of H, W, or ``(B, Cξ)``.
            emb: embedding ``(B, emb_dim)``.

        Returns:
            Features shaped like ``h``.
        """
        g = self.gate(emb).sigmoid()
        if not self.spatial:
            return h + g * self.proj(xi.to(h.dtype))
        if xi.shape[-2:] != h.shape[-2:]:
            factor = xi.shape[-2] // h.shape[-2]
            xi = F.avg_pool2d(xi, factor) * factor  # mean of factor² unit Gaussians has variance 1/factor²
        return h + g[:, :, None, None] * self.proj(xi.to(h.dtype))
