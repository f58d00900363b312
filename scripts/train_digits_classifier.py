"""Train the shipped digits classifier used for classifier-Fréchet distance.

Trains :class:`difflab.metrics.digits_classifier.DigitsClassifier` on the
digits TRAIN split only (``difflab.data.digits_split``), with random ±1 pixel
shifts, deterministically under ``--seed`` on CPU (about a minute), then
writes ``digits_classifier.safetensors`` and ``digits_classifier.json``
(architecture, test accuracy, command) to ``src/difflab/assets/``.

Usage: python scripts/train_digits_classifier.py [--seed 0] [--steps 2000]
"""

import argparse
from pathlib import Path

import torch
import torch.nn.functional as F
from classifier_training import DEFAULT_OUT, seed_everything, train_and_save

from difflab.data.digits_split import digits_split
from difflab.metrics.digits_classifier import META_NAME, WEIGHTS_NAME, DigitsClassifier, normalise_digits


def random_shift(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Shift each image ``(B, 1, 8, 8)`` by a random offset in {-1, 0, 1}² (background fill)."""
    b, _, h, w = x.shape
    padded = F.pad(x, (1, 1, 1, 1), value=-1.0)  # -1 is the blank background in model space
    crops = torch.stack([padded[:, :, dy : dy + h, dx : dx + w] for dy in range(3) for dx in range(3)])
    pick = torch.randint(0, 9, (b,), generator=gen)
    return crops[pick, torch.arange(b)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--out-dir", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()

    gen = seed_everything(args.seed)
    x_tr, y_tr, x_te, y_te = digits_split()
    data = (
        torch.from_numpy(normalise_digits(x_tr)),
        torch.from_numpy(y_tr),
        torch.from_numpy(normalise_digits(x_te)),
        torch.from_numpy(y_te),
    )
    meta = {"input": "x / 8 - 1 in [-1, 1], shape (N, 1, 8, 8); digits TRAIN split only"}
    train_and_save(DigitsClassifier(), data, random_shift, gen, args, (WEIGHTS_NAME, META_NAME), meta, log_every=500)


if __name__ == "__main__":
    main()
