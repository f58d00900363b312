"""Training sets read example by example (a ``torch.utils.data.Dataset``) instead of held in one tensor.

``folder`` and ``.npy`` image data larger than ``data.stream_above_mb`` (as float32) are not decoded into
memory: the loader returns a :class:`~difflab.data.base.Dataset` whose ``train_stream`` reads one
normalised example per index (an image file decoded, or a row of a memory-mapped ``.npy``), and whose
``train`` holds only a seeded subset of :data:`FIT_EXAMPLES` training examples, enough to fit the
process (PCA basis, prior scale) and the after-training statistics. The test split stays in memory.

An item reads exactly what the in-memory path holds for that example (same decoding, same
normaliser, float64 arithmetic then float32), so a streamed batch equals the in-memory batch of the
same indices bit for bit (``tests/data/test_stream.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset as TorchDataset

from difflab.data.base import Normaliser

FIT_EXAMPLES = 2048  # training examples held in memory when streaming (fitting, after-training statistics)
NO_LABEL = -1  # the label an unlabelled item carries (a collated batch cannot hold None)


def fit_subset(n: int, seed: int) -> np.ndarray:
    """The sorted positions of the training examples a streamed dataset keeps in memory (all when ``n`` is small)."""
    if n <= FIT_EXAMPLES:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, FIT_EXAMPLES, replace=False))


def wants_stream(stream: str, n_train: int, example_shape: Sequence[int], above_mb: float) -> bool:
    """Whether a training set of ``n_train`` float32 examples of ``example_shape`` is streamed.

    ``stream``: ``never``, ``always``, or ``auto`` (stream when the float32 training set is over ``above_mb`` MiB).
    """
    if stream == "auto":
        return n_train * int(np.prod(example_shape)) * 4 > above_mb * (1 << 20)
    return stream == "always"


class StreamedExamples(TorchDataset):
    """Training example ``i`` read on demand: ``(x (C, H, W) float32 normalised, label int64)``.

    An index is ``i`` or ``(i, flip)``; ``flip`` mirrors the image left-right (after normalising, as the
    in-memory path does), so the sampler decides every random choice and the workers hold no RNG.

    Args:
        read: ``read(j) -> (C, H, W)`` float64 in original units, ``j`` a position in the source.
        positions: ``(N,)`` source positions of the training examples (the train split).
        labels: ``(N,)`` int64 labels of the training examples, or ``None``.
        normaliser: the dataset's normaliser (the in-memory path encodes with the same one).
    """

    def __init__(
        self,
        read: Callable[[int], np.ndarray],
        positions: np.ndarray,
        labels: np.ndarray | None,
        normaliser: Normaliser,
    ) -> None:
        self.read = read
        self.positions = np.asarray(positions, dtype=np.int64)
        self.labels = None if labels is None else np.asarray(labels, dtype=np.int64)
        self.normaliser = normaliser

    def __len__(self) -> int:
        return len(self.positions)

    def example(self, i: int) -> np.ndarray:
        """Training example ``i`` normalised, ``(C, H, W)`` float32."""
        x = self.normaliser.encode(np.asarray(self.read(int(self.positions[i])), dtype=np.float64))
        return np.ascontiguousarray(x, dtype=np.float32)

    def __getitem__(self, index: int | tuple[int, bool]) -> tuple[torch.Tensor, int]:
        i, flip = index if isinstance(index, tuple) else (index, False)
        x = torch.from_numpy(self.example(i))
        if flip:
            x = x.flip(-1)
        return x, NO_LABEL if self.labels is None else int(self.labels[i])

    def stack(self, which: np.ndarray) -> torch.Tensor:
        """Examples ``which`` as one ``(len(which), C, H, W)`` float32 tensor (read in the calling process)."""
        return torch.from_numpy(np.stack([self.example(int(i)) for i in which]))


class MemmapImages:
    """Row ``j`` of a memory-mapped ``.npy`` image array as ``(C, H, W)`` float64 (a picklable reader)."""

    def __init__(self, path: Path, channels_last: bool) -> None:
        self.path, self.channels_last = Path(path), channels_last
        self._data: np.ndarray | None = None

    def __getstate__(self) -> dict:
        return {"path": self.path, "channels_last": self.channels_last, "_data": None}  # each worker maps the file

    def __call__(self, j: int) -> np.ndarray:
        if self._data is None:
            self._data = np.load(self.path, mmap_mode="r", allow_pickle=False)
        row = np.asarray(self._data[j], dtype=np.float64)
        if row.ndim == 2:
            return row[None]
        return row.transpose(2, 0, 1) if self.channels_last else row
