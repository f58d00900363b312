"""Training-time dequantisation (``data.dequantise``): the noise is one grid step wide in original units,
rounds back to the data, is drawn reproducibly in both batch paths, and continuous data is refused."""

import numpy as np
import pytest
import torch

from difflab.data import load_dataset
from difflab.errors import DifflabError
from difflab.io import latest_checkpoint
from difflab.pipeline import train_run
from difflab.pipeline.run import CKPT_DIR
from difflab.training.batches import MemoryBatches, StreamBatches, batch_draw
from tests.data.test_stream import image_folder
from tests.helpers import interrupt_training, tiny_config, weights_of


def _raw(dataset, x):
    return dataset.normaliser.decode(x, clamp=False)


def test_width_is_one_grid_step_in_original_units():
    digits = load_dataset("digits")
    width = digits.dequantisation_width()
    assert width.shape == digits.shape and width.dtype == torch.float32
    # one normalised step maps back to the grid step (1 grey level of 0..16)
    ones = _raw(digits, digits.test[:1] + width) - _raw(digits, digits.test[:1])
    assert torch.allclose(ones, torch.ones_like(ones), atol=1e-5)


def test_continuous_data_has_no_width():
    with pytest.raises(DifflabError, match="data.dequantise needs discrete data.*'toy2d' is continuous"):
        load_dataset("toy2d").dequantisation_width()


def test_memory_batches_dequantise_within_half_a_step_and_round_back():
    digits = load_dataset("digits")
    x, width = digits.train, digits.dequantisation_width()
    batches = MemoryBatches(x, None, 256, torch.Generator().manual_seed(0), torch.device("cpu"), dequant_width=width)
    got, _ = batches.next()
    idx = torch.randint(len(x), (256,), generator=torch.Generator().manual_seed(0))  # the same index draw
    offset = _raw(digits, got) - _raw(digits, x[idx])  # in grey levels
    assert offset.abs().max() <= 0.5 + 1e-5
    assert torch.equal(torch.round(_raw(digits, got)), torch.round(_raw(digits, x[idx])))
    # the noise is uniform on (-1/2, 1/2): mean 0, variance 1/12 (n = 16384 values)
    assert abs(offset.mean().item()) < 0.01 and abs(offset.var().item() - 1 / 12) < 0.004


def test_memory_batches_without_the_option_are_unchanged():
    x = torch.randn(50, 1, 4, 4)
    a, _ = MemoryBatches(x, None, 8, torch.Generator().manual_seed(1), torch.device("cpu")).next()
    b, _ = MemoryBatches(x, None, 8, torch.Generator().manual_seed(1), torch.device("cpu"), dequant_width=None).next()
    assert torch.equal(a, b) and torch.equal(a, x[torch.randint(50, (8,), generator=torch.Generator().manual_seed(1))])


def test_streamed_batches_dequantise_reproducibly_from_any_start(tmp_path):
    streamed = load_dataset("folder", stream="always", path=str(image_folder(tmp_path / "img")), size=6, channels=3)
    streamed.meta["quantum"] = 1 / 255  # folder declares no grid (16-bit images are read too); say it is 8-bit
    width = streamed.dequantisation_width()
    assert torch.allclose(width * 255 * torch.as_tensor(np.asarray(streamed.normaliser.scale)), torch.ones(()))

    def batch(start, micro, seed=3):
        loader = StreamBatches(streamed.train_stream, 5, seed, 0, torch.device("cpu"), dequant_width=width)
        loader.start(start)
        try:
            for _ in range(micro - start + 1):
                x, _ = loader.next()
        finally:
            loader.close()
        return x

    straight, resumed = batch(0, 2), batch(2, 2)
    assert torch.equal(straight, resumed)  # a loader restarted at micro-batch 2 draws the same noise
    assert not torch.equal(straight, batch(0, 2, seed=4))
    idx, _ = batch_draw(streamed.n_train, 5, 3, 0, 2)
    clean = torch.stack([streamed.train_stream[int(i)][0] for i in idx])
    offset = (_raw(streamed, straight) - _raw(streamed, clean)) * 255  # in 8-bit levels
    assert 0 < offset.abs().max() <= 0.5 + 1e-4


def test_training_resumes_exactly_with_dequantisation(tmp_path):
    cfg = tiny_config("data.dequantise=true")
    train_run(cfg, tmp_path / "straight", progress=False)
    interrupt_training(cfg, tmp_path / "resumed", stop_after=3)
    train_run(cfg, tmp_path / "resumed", progress=False)
    a = weights_of(latest_checkpoint(tmp_path / "straight" / CKPT_DIR))
    b = weights_of(latest_checkpoint(tmp_path / "resumed" / CKPT_DIR))
    assert all(torch.equal(a[k], b[k]) for k in a)
    plain = weights_of(latest_checkpoint(train_run(tiny_config(), tmp_path / "plain", progress=False) / CKPT_DIR))
    assert any(not torch.equal(a[k], plain[k]) for k in a)  # the noise reached the training batches


def test_dequantising_continuous_data_is_refused_before_anything_is_written(tmp_path):
    cfg = tiny_config("data.name=toy2d", "network.kind=mlp", "data.dequantise=true")
    with pytest.raises(DifflabError, match="data.dequantise needs discrete data"):
        train_run(cfg, tmp_path / "r", progress=False)
    assert not (tmp_path / "r").exists()
