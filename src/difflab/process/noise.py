"""Noise sources: a sample's noise depends on its seed, not on its batch.

EDM-style per-sample generators make results reproducible when the batch size
changes; a single generator (or the global RNG) is faster for big moment tests.
"""

from collections.abc import Sequence

import torch
from torch import Tensor


class PerSampleNoise:
    """One ``torch.Generator`` per sample, seeded from ``seeds``.

    Drawing ``(B, *rest)`` takes row i from generator i, so sample i's noise
    stream is the same in any batch.
    """

    def __init__(self, seeds: Sequence[int], device: torch.device | str = "cpu"):
        self.seeds = [int(s) for s in seeds]
        self.generators = [torch.Generator(device="cpu").manual_seed(s) for s in self.seeds]
        self.device = torch.device(device)

    def __len__(self) -> int:
        return len(self.generators)

    def randn(self, shape: Sequence[int], dtype: torch.dtype = torch.float32, device=None) -> Tensor:
        shape = tuple(shape)
        if shape[0] != len(self.generators):
            raise ValueError(f"PerSampleNoise holds {len(self.generators)} seeds but {shape[0]} rows were asked for")
        rows = [torch.randn(shape[1:], generator=g, dtype=torch.float64) for g in self.generators]
        return torch.stack(rows).to(dtype=dtype, device=device or self.device)


NoiseLike = PerSampleNoise | torch.Generator | None


def standard_normal(noise: NoiseLike, shape: Sequence[int], dtype: torch.dtype = torch.float32, device=None) -> Tensor:
    """Draw N(0, I) of ``shape`` from a per-sample source, a generator, or the global RNG."""
    if isinstance(noise, PerSampleNoise):
        return noise.randn(shape, dtype=dtype, device=device)
    if isinstance(noise, torch.Generator):
        return torch.randn(tuple(shape), generator=noise, dtype=dtype, device=noise.device).to(device)
    return torch.randn(tuple(shape), dtype=dtype, device=device)
