"""Noise sources: a sample's noise depends on its seed, not on its batch.

EDM-style per-sample generators make results reproducible when the batch size
changes; a single generator (or the global RNG) is faster for big moment tests.
Every per-sample seed in difflab comes from this module: :func:`derive_seed` for a
sample index (sampling, training, code draws), so sample i of base seed S (plus a
stream offset) is one number everywhere, and :func:`mixed_seed` for a tuple of keys
(representations' trajectories: example, time point, stream). Two schemes, because
moving representations onto the first would change every published trajectory figure.
"""

from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor

SEED_STRIDE = 1_000_003  # a prime > any n per call: (seed, i) pairs never collide for i < SEED_STRIDE


def derive_seed(seed: int, i: int, *, offset: int = 0) -> int:
    """The seed of stream ``i`` under base ``seed``: ``offset + seed * 1_000_003 + i``.

    Args:
        seed: the caller's base seed.
        i: the sample (or rank) index.
        offset: separates independent streams drawn under the same ``(seed, i)``
            (e.g. code draws vs. sampler noise).
    """
    return offset + seed * SEED_STRIDE + i


def sample_seeds(seed: int, n: int, *, offset: int = 0) -> list[int]:
    """Seeds of samples ``0 .. n-1`` under base ``seed`` (see :func:`derive_seed`)."""
    return [derive_seed(seed, i, offset=offset) for i in range(n)]


def mixed_seed(seed: int, *keys: int) -> int:
    """A 63-bit seed mixed from ``seed`` and integer ``keys`` by NumPy's ``SeedSequence``.

    Nearby key tuples give unrelated seeds, which a linear formula cannot promise in
    several dimensions at once.
    """
    return int(np.random.SeedSequence([seed, *keys]).generate_state(2, np.uint64)[0] >> 1)


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


def randn_like_from(shape: Sequence[int], generator: torch.Generator | None, like: Tensor) -> Tensor:
    """N(0, I) of ``shape`` drawn on the CPU from ``generator``, moved to ``like``'s device and dtype.

    Drawing on the CPU makes training draws the same on every device for one seed.
    """
    return torch.randn(shape, generator=generator).to(device=like.device, dtype=like.dtype)
