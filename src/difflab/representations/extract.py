"""Trajectory extraction: a source's features at K time points for every example.

Mittal et al. (arXiv 2210.13774) represent x₀ by the function t ↦ E(x₀, t),
sampled at K points. Extraction runs in batches; every example's noise is
seeded by its index, so the result does not depend on the batch size.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
from torch import Tensor

from difflab.process.noise import PerSampleNoise
from difflab.representations.sources import Source, example_seeds

# Noise streams: forward noise of train/test features and the robustness corruption never share seeds.
STREAM_TRAIN, STREAM_TEST, STREAM_CORRUPT = 0, 1, 2


@dataclass
class Trajectories:
    """Features of a dataset's two splits at ``times``.

    Attributes:
        train: ``(N_train, K, F)`` float32.
        train_labels: ``(N_train,)`` int64.
        test: ``(N_test, K, F)`` float32.
        test_labels: ``(N_test,)`` int64.
        times: the K times, clean (0) to noisy (1).
        meta: the cache key and anything else worth recording.
    """

    train: Tensor
    train_labels: Tensor
    test: Tensor
    test_labels: Tensor
    times: list[float]
    meta: dict = field(default_factory=dict)

    @property
    def num_classes(self) -> int:
        return int(max(self.train_labels.max(), self.test_labels.max())) + 1


def corrupt(x: Tensor, std: float, seed: int) -> Tensor:
    """``x + std · ε`` with per-example seeded ε ``(N, *shape)`` (robustness task)."""
    if std == 0:
        return x
    seeds = example_seeds(seed, torch.arange(x.shape[0]), 0, stream=STREAM_CORRUPT)
    return x + std * PerSampleNoise(seeds, device=x.device).randn(x.shape, dtype=x.dtype)


@torch.no_grad()
def extract_trajectory(
    source: Source,
    x: Tensor,
    times: Sequence[float],
    *,
    batch_size: int = 256,
    stream: int = STREAM_TRAIN,
    indices: Tensor | None = None,
    device: str | torch.device = "cpu",
    progress: bool = False,
) -> Tensor:
    """Features of ``x`` ``(N, *shape)`` at each time: ``(N, K, F)`` (K = 1 for a time-independent source).

    Args:
        source: a representation source.
        x: examples in the model's (normalised) space.
        times: K times in [0, 1].
        batch_size: examples per forward pass (does not change the result).
        stream: noise stream, so two splits never share forward noise.
        indices: ``(N,)`` example ids that seed the noise (default ``0..N-1``; pass the
            ids of a subset to reproduce its rows of the full extraction).
        device: where the network runs.
        progress: show a progress bar.
    """
    times = list(times) if source.time_dependent else [0.0]
    ids = torch.arange(x.shape[0]) if indices is None else torch.as_tensor(indices).long()
    out = []
    for k, t in enumerate(times):
        rows = []
        for start in range(0, x.shape[0], batch_size):
            rows_slice = slice(start, start + batch_size)
            # The stream is folded into the time index so train/test noise streams differ.
            rows.append(source(x[rows_slice].to(device), t, ids[rows_slice], k + 1000 * stream).cpu())
        out.append(torch.cat(rows))
        if progress:
            split = {STREAM_TRAIN: "train", STREAM_TEST: "test"}.get(stream, f"stream {stream}")
            print(f"  {split} t={t:.3f}: {out[-1].shape[1]} features of {x.shape[0]} examples", flush=True)
    return torch.stack(out, dim=1).float()
