"""A tiny CNN for 8x8 digits, shipped with the package, for classifier-Fréchet distance.

The digits analogue of FID (Heusel et al., 2017): the Fréchet distance between
Gaussians fitted to the 128-d penultimate features of a classifier trained on
the digits TRAIN split (``scripts/train_digits_classifier.py``). Inputs live in
the model's normalised space, ``x / 8 - 1`` in [-1, 1], shaped ``(N, 1, 8, 8)``.
"""

import functools
import json
from collections.abc import Callable
from importlib import resources
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file
from torch import nn

from difflab.errors import DifflabError
from difflab.metrics._inputs import ArrayLike, as_float64, as_pair
from difflab.metrics.frechet import fd_from_features

WEIGHTS_NAME = "digits_classifier.safetensors"
META_NAME = "digits_classifier.json"
_BATCH = 1024


def normalise_digits(raw: np.ndarray) -> np.ndarray:
    """Raw digits ``(N, 8, 8)`` in [0, 16] -> model space ``(N, 1, 8, 8)`` float32 in [-1, 1]."""
    return (np.asarray(raw, dtype=np.float32)[:, None] / 8.0 - 1.0).astype(np.float32)


class DigitsClassifier(nn.Module):
    """conv(1→c1) → conv(c1→c2) → maxpool → linear(→hidden) → ReLU → linear(→10).

    Args:
        channels: output channels of the two 3x3 convolutions.
        hidden: width of the penultimate layer (the feature dimension).
        n_classes: number of logits.
    """

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

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``(N, n_classes)`` for images ``(N, 1, 8, 8)`` in [-1, 1]."""
        return self.head(torch.relu(self._penultimate(x)))

    def _batched(self, x: ArrayLike, fn: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor:
        arr = as_float64(x, "x")
        if arr.shape[1:] == (8, 8):
            arr = arr[:, None]
        if arr.shape[1:] != (1, 8, 8):
            raise DifflabError(f"digits classifier needs images shaped (N, 1, 8, 8), got {arr.shape}")
        xt = torch.from_numpy(arr.astype(np.float32))
        param = next(self.parameters())
        with torch.no_grad():
            outs = [
                fn(xt[i : i + _BATCH].to(param.device, param.dtype)).float().cpu() for i in range(0, len(xt), _BATCH)
            ]
        return torch.cat(outs)

    def features(self, x: ArrayLike) -> torch.Tensor:
        """Penultimate features ``(N, hidden)`` of images ``(N, 1, 8, 8)`` (or ``(N, 8, 8)``)."""
        return self._batched(x, self._penultimate)

    def predict(self, x: ArrayLike) -> torch.Tensor:
        """Predicted labels ``(N,)`` int64 for images ``(N, 1, 8, 8)`` (or ``(N, 8, 8)``)."""
        return self._batched(x, self.forward).argmax(dim=1).to(torch.int64)


def _asset(name: str) -> Any:
    return resources.files("difflab").joinpath("assets", name)


@functools.cache
def load_digits_classifier() -> DigitsClassifier:
    """Load the shipped classifier (safetensors only), in eval mode, cached after the first call.

    The returned module is shared; do not train or move it in place.
    """
    weights, meta = _asset(WEIGHTS_NAME), _asset(META_NAME)
    if not (weights.is_file() and meta.is_file()):
        raise DifflabError(
            "shipped digits classifier is missing from difflab/assets; "
            "run `python scripts/train_digits_classifier.py` to rebuild it"
        )
    arch = json.loads(meta.read_text())["architecture"]
    model = DigitsClassifier(channels=tuple(arch["channels"]), hidden=arch["hidden"], n_classes=arch["n_classes"])
    with resources.as_file(weights) as path:
        model.load_state_dict(load_file(str(path)))
    model.eval().requires_grad_(False)
    return model


def classifier_fd(samples: ArrayLike, reference: ArrayLike) -> float:
    """Fréchet distance in the shipped digits classifier's 128-d penultimate features.

    Args:
        samples: generated digits ``(N, 1, 8, 8)`` in normalised space [-1, 1].
        reference: held-out digits ``(M, 1, 8, 8)``, e.g. the test split.

    Returns:
        The classifier-Fréchet distance (float).
    """
    x, y = as_pair(samples, reference, min_n=2)
    model = load_digits_classifier()
    return fd_from_features(model.features(x).numpy(), model.features(y).numpy())
