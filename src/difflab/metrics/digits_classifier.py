"""A tiny CNN for 8x8 digits, shipped with the package, for classifier-Fréchet distance.

The digits analogue of FID (Heusel et al., 2017): the Fréchet distance between
Gaussians fitted to the 128-d penultimate features of a classifier trained on
the digits TRAIN split (``scripts/train_digits_classifier.py``). Inputs live in
the model's normalised space, ``x / 8 - 1`` in [-1, 1], shaped ``(N, 1, 8, 8)``.
"""

import functools

import numpy as np
import torch
from torch import nn

from difflab.metrics.feature_classifier import FeatureClassifier, load_shipped

STEM = "digits_classifier"
WEIGHTS_NAME = f"{STEM}.safetensors"
META_NAME = f"{STEM}.json"


def normalise_digits(raw: np.ndarray) -> np.ndarray:
    """Raw digits ``(N, 8, 8)`` in [0, 16] -> model space ``(N, 1, 8, 8)`` float32 in [-1, 1]."""
    return (np.asarray(raw, dtype=np.float32)[:, None] / 8.0 - 1.0).astype(np.float32)


class DigitsClassifier(FeatureClassifier):
    """conv(1→c1) → conv(c1→c2) → maxpool → linear(→hidden) → ReLU → linear(→10), for ``(N, 1, 8, 8)``.

    Args:
        channels: output channels of the two 3x3 convolutions.
        hidden: width of the penultimate layer (the feature dimension).
        n_classes: number of logits.
    """

    input_shape = (1, 8, 8)
    name = "digits"

    def __init__(self, channels: tuple[int, int] = (32, 64), hidden: int = 128, n_classes: int = 10):
        super().__init__()
        c1, c2 = channels
        self.config = {"channels": [c1, c2], "hidden": hidden, "n_classes": n_classes}
        self.conv = nn.Sequential(
            nn.Conv2d(1, c1, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(c1, c2, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
        )
        self.fc = nn.Linear(c2 * 4 * 4, hidden)
        self.head = nn.Linear(hidden, n_classes)

    def _penultimate(self, x: torch.Tensor) -> torch.Tensor:
        # Pre-activation features: denser and better conditioned for a
        # Gaussian fit than post-ReLU ones (no dead, always-zero dimensions).
        return self.fc(self.conv(x).flatten(1))


@functools.cache
def load_digits_classifier() -> DigitsClassifier:
    """Load the shipped classifier (safetensors only), in eval mode, cached after the first call.

    The returned module is shared; do not train or move it in place.
    """
    return load_shipped(DigitsClassifier, STEM, "scripts/train_digits_classifier.py")
