"""Where the training loop's batches come from: the training tensor, or a streamed dataset through a DataLoader.

In memory (:class:`MemoryBatches`, difflab's original path) a batch is ``B`` indices drawn with
replacement from the trainer's generator, the same generator the objective draws times and noise from,
so its position is part of the checkpoint (the saved RNG state).

Streamed (:class:`StreamBatches`) the loader's workers read ahead, so the indices cannot come from that
shared generator. Micro-batch ``k`` of rank ``r`` instead draws its ``B`` indices (with replacement, as
in memory) and its flips from its own generator seeded by ``(seed, r, k)`` (:func:`batch_draw`): the
sampler's position is derived from the step, a resumed run restarts the loader at
``k = step × grad_accum`` and reads the batches an uninterrupted run reads, and under DDP each rank
draws its own batches from the whole set, as the in-memory path does (no ``DistributedSampler``
needed for sampling with replacement).
"""

from __future__ import annotations

import signal
from collections.abc import Iterator

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import DataLoader

from difflab.data.stream import StreamedExamples
from difflab.errors import DifflabError

STREAM_KEY = 0x5EED_10AD  # separates the batch streams from any other stream seeded by (seed, rank)
DEQUANT_KEY = 0xDE_0A47  # the streamed path's dequantisation noise, apart from its index and flip draws


def batch_draw(n: int, batch_size: int, seed: int, rank: int, micro: int) -> tuple[np.ndarray, np.ndarray]:
    """Micro-batch ``micro``'s ``(indices (B,) int64 in [0, n), flips (B,) bool)`` for rank ``rank``."""
    rng = np.random.default_rng([seed, rank, micro, STREAM_KEY])
    return rng.integers(n, size=batch_size), rng.random(batch_size) < 0.5


def dequantise(x: Tensor, width: Tensor, u: Tensor) -> Tensor:
    """``x (B, *shape)`` plus ``width (*shape) × (u − ½)``: centred uniform dequantisation with uniforms ``u``."""
    return x + width.to(x.device) * (u.to(x.device) - 0.5)


def flip_where(x: Tensor, flip: Tensor) -> Tensor:
    """``x (B, C, H, W)`` with the images where ``flip (B,)`` is true mirrored left-right."""
    return torch.where(flip.view(-1, *([1] * (x.dim() - 1))), x.flip(-1), x)


class MemoryBatches:
    """Batches of ``x (N, *shape)`` (and ``labels (N,)``) drawn with ``generator``.

    ``hflip`` then draws ``B`` uniforms from the same generator, and ``dequant_width`` (one grid step in
    normalised units, shaped like an example: :meth:`~difflab.data.base.Dataset.dequantisation_width`) a
    uniform per value after that (a run without either draws exactly what it always did).
    """

    def __init__(
        self,
        x: Tensor,
        labels: Tensor | None,
        batch_size: int,
        generator: torch.Generator,
        device: torch.device,
        hflip: bool = False,
        dequant_width: Tensor | None = None,
    ) -> None:
        self.x, self.labels, self.batch_size, self.generator = x, labels, batch_size, generator
        self.device, self.hflip, self.dequant_width = device, hflip, dequant_width

    def start(self, micro: int) -> None:
        """Nothing to do: the generator's state is the position (restored with the checkpoint)."""

    def next(self) -> tuple[Tensor, Tensor | None]:
        idx = torch.randint(self.x.shape[0], (self.batch_size,), generator=self.generator)
        idx = idx.to(self.x.device)
        x0 = self.x[idx].to(self.device, non_blocking=True)
        labels = self.labels[idx].to(self.device) if self.labels is not None else None
        if self.hflip:
            flip = torch.rand(self.batch_size, generator=self.generator) < 0.5
            x0 = flip_where(x0, flip.to(self.device))
        if self.dequant_width is not None:
            x0 = dequantise(x0, self.dequant_width, torch.rand(x0.shape, generator=self.generator))
        return x0, labels

    def close(self) -> None:
        pass


class StepSampler:
    """A DataLoader ``batch_sampler``: micro-batches ``start, start + 1, ...`` as lists of ``(index, flip)``."""

    def __init__(self, n: int, batch_size: int, seed: int, rank: int, hflip: bool, start: int = 0) -> None:
        self.n, self.batch_size, self.seed, self.rank, self.hflip, self.start = n, batch_size, seed, rank, hflip, start

    def __iter__(self) -> Iterator[list[tuple[int, bool]]]:
        micro = self.start
        while True:
            idx, flips = batch_draw(self.n, self.batch_size, self.seed, self.rank, micro)
            yield [(int(i), bool(f) and self.hflip) for i, f in zip(idx, flips, strict=True)]
            micro += 1


def _quiet_worker(worker_id: int) -> None:
    # Ctrl-C and a scheduler's SIGTERM reach the whole process group. The training process stops at a step
    # boundary (with a checkpoint) and then ends the workers; a worker that died first would fail that step.
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_IGN)


def one_line(err: BaseException) -> str:
    """The original message of an error a loader worker raised (the DataLoader wraps it in a traceback)."""
    lines = [line for line in str(err).strip().splitlines() if line.strip()]
    last = lines[-1] if lines else type(err).__name__
    prefix = f"{type(err).__module__}.{type(err).__name__}: "
    return last[len(prefix) :] if last.startswith(prefix) else last


class StreamBatches:
    """Batches of a :class:`~difflab.data.stream.StreamedExamples` read by a DataLoader.

    Args:
        source: the streamed training split.
        batch_size: examples per micro-batch.
        seed, rank: seed the per-micro-batch draws (:func:`batch_draw`).
        device: where batches go (pinned host memory first on CUDA).
        hflip: mirror the images the draw marks.
        dequant_width: add centred uniform dequantisation of this width (normalised units, shaped like an
            example); micro-batch ``k``'s uniforms come from a generator seeded by ``(seed, rank, k)``, so a
            resumed run draws the noise an uninterrupted one draws.
        num_workers: loader processes (0: read in the training process).
        with_labels: return the labels (class-conditional training), else ``None``.
    """

    def __init__(
        self,
        source: StreamedExamples,
        batch_size: int,
        seed: int,
        rank: int,
        device: torch.device,
        *,
        hflip: bool = False,
        dequant_width: Tensor | None = None,
        num_workers: int = 0,
        with_labels: bool = False,
    ) -> None:
        self.source, self.batch_size, self.seed, self.rank, self.device = source, batch_size, seed, rank, device
        self.hflip, self.num_workers, self.with_labels = hflip, num_workers, with_labels
        self.dequant_width = dequant_width
        self._it: Iterator | None = None
        self.micro = 0

    def start(self, micro: int) -> None:
        """(Re)start the loader at micro-batch ``micro`` (``step × grad_accum`` on resume)."""
        self.close()
        sampler = StepSampler(len(self.source), self.batch_size, self.seed, self.rank, self.hflip, micro)
        workers = self.num_workers
        loader = DataLoader(
            self.source,
            batch_sampler=sampler,
            num_workers=workers,
            pin_memory=self.device.type == "cuda",
            worker_init_fn=_quiet_worker if workers else None,
            prefetch_factor=2 if workers else None,
        )
        self._it, self.micro = iter(loader), micro

    def next(self) -> tuple[Tensor, Tensor | None]:
        if self._it is None:
            self.start(self.micro)
        try:
            x, y = next(self._it)
        except DifflabError as err:  # from a worker: its message inside the worker's traceback
            self.close()
            raise DifflabError(one_line(err)) from None
        x = x.to(self.device, non_blocking=True)
        if self.dequant_width is not None:
            rng = np.random.default_rng([self.seed, self.rank, self.micro, DEQUANT_KEY])
            x = dequantise(x, self.dequant_width, torch.from_numpy(rng.random(tuple(x.shape), dtype=np.float32)))
        self.micro += 1
        return x, (y.to(self.device, non_blocking=True) if self.with_labels else None)

    def close(self) -> None:
        """End the loader's workers (the iterator shuts them down when it is dropped)."""
        self._it = None
