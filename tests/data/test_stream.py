"""Streamed training sets: every example and every batch equals the in-memory path's; the choice by size."""

import numpy as np
import pytest
import torch
from PIL import Image

from difflab.data import load_dataset
from difflab.data.registry import dataset_options
from difflab.data.stream import FIT_EXAMPLES, fit_subset, wants_stream
from difflab.errors import DifflabError
from difflab.training.batches import MemoryBatches, StreamBatches, batch_draw, flip_where


def image_folder(root, n=30, size=6, seed=0):
    """``n`` random RGB PNGs in two class sub-folders."""
    rng = np.random.default_rng(seed)
    for i in range(n):
        sub = root / ("a" if i % 3 else "b")
        sub.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8)).save(sub / f"{i:03d}.png")
    return root


def _pair(name, **options):
    memory = load_dataset(name, stream="never", **options)
    streamed = load_dataset(name, stream="always", **options)
    return memory, streamed


def _check_same(memory, streamed):
    assert memory.train_stream is None and streamed.train_stream is not None
    assert streamed.n_train == memory.n_train == len(memory.train)
    items = [streamed.train_stream[i] for i in range(streamed.n_train)]
    assert torch.equal(torch.stack([x for x, _ in items]), memory.train)  # bit for bit
    assert [y for _, y in items] == memory.train_labels.tolist()
    keep = fit_subset(memory.n_train, 0)
    assert torch.equal(streamed.train, memory.train[keep])
    assert torch.equal(streamed.train_labels, memory.train_labels[keep])
    assert torch.equal(streamed.test, memory.test) and torch.equal(streamed.test_labels, memory.test_labels)
    assert streamed.normaliser == memory.normaliser and streamed.num_classes == memory.num_classes


def test_folder_examples_equal_the_in_memory_ones(tmp_path):
    _check_same(*_pair("folder", path=str(image_folder(tmp_path / "img")), size=6, channels=3))


def test_npy_examples_equal_the_in_memory_ones(tmp_path):
    rng = np.random.default_rng(1)
    data = rng.integers(0, 256, (40, 5, 5, 3), dtype=np.uint8)  # channels-last, transposed per example
    np.save(tmp_path / "x.npy", data)
    np.save(tmp_path / "y.npy", rng.integers(0, 4, 40))
    _check_same(*_pair("npy", path=str(tmp_path / "x.npy"), labels=str(tmp_path / "y.npy")))


@pytest.mark.parametrize("workers", [0, 2])
def test_streamed_batches_equal_the_in_memory_batches(tmp_path, workers):
    memory, streamed = _pair("folder", path=str(image_folder(tmp_path / "img")), size=6, channels=3)
    seed, rank, batch = 3, 1, 7
    loader = StreamBatches(
        streamed.train_stream, batch, seed, rank, torch.device("cpu"), hflip=True, num_workers=workers, with_labels=True
    )
    loader.start(5)  # as a run resumed at micro-batch 5
    try:
        for micro in range(5, 9):
            idx, flips = batch_draw(memory.n_train, batch, seed, rank, micro)
            x, y = loader.next()
            assert torch.equal(x, flip_where(memory.train[idx], torch.from_numpy(flips)))
            assert torch.equal(y, memory.train_labels[idx])
    finally:
        loader.close()
    assert flips.any() and not flips.all()


def test_memory_batches_without_flips_draw_what_they_always_did():
    x, g = torch.randn(50, 1, 4, 4), torch.Generator().manual_seed(0)
    got, _ = MemoryBatches(x, None, 8, g, torch.device("cpu")).next()
    assert torch.equal(got, x[torch.randint(50, (8,), generator=torch.Generator().manual_seed(0))])


def test_the_choice_by_size(tmp_path):
    assert wants_stream("auto", 1000, (3, 32, 32), 11.0) and not wants_stream("auto", 1000, (3, 32, 32), 12.0)
    assert wants_stream("always", 1, (1,), 1e9) and not wants_stream("never", 10**9, (3, 64, 64), 0)
    opts = {"path": str(image_folder(tmp_path / "img")), "size": 6, "channels": 3, "stream": "auto"}
    assert load_dataset("folder", **opts, stream_above_mb=0.0).train_stream is not None
    assert load_dataset("folder", **opts, stream_above_mb=1.0).train_stream is None
    assert load_dataset("digits", stream="auto", stream_above_mb=0.0).train_stream is None  # no streaming path
    assert len(fit_subset(10 * FIT_EXAMPLES, 0)) == FIT_EXAMPLES


def test_stream_is_not_a_dataset_option_and_always_needs_a_streaming_path():
    assert "stream" not in dataset_options("folder") and "stream_above_mb" not in dataset_options("npy")
    with pytest.raises(DifflabError, match="no streaming path"):
        load_dataset("digits", stream="always")
    with pytest.raises(DifflabError, match="data.stream must be never, auto or always"):
        load_dataset("digits", stream="sometimes")


def test_npy_streaming_refusals_are_one_line(tmp_path):
    x = np.random.default_rng(0).random((20, 4, 4))
    np.savez(tmp_path / "x.npz", x=x)
    np.save(tmp_path / "v.npy", x.reshape(20, 16))
    for name in ("x.npz", "v.npy"):  # these load whole under auto, and say so under always
        assert load_dataset("npy", path=str(tmp_path / name), stream="auto", stream_above_mb=0.0).train_stream is None
        with pytest.raises(DifflabError, match="data.stream=always reads a plain .npy image array"):
            load_dataset("npy", path=str(tmp_path / name), stream="always")
    x[7, 1, 2] = np.nan
    np.save(tmp_path / "nan.npy", x)
    with pytest.raises(DifflabError, match="non-finite"):
        load_dataset("npy", path=str(tmp_path / "nan.npy"), stream="always")
