"""A small image classifier whose penultimate features serve a classifier-Fréchet distance.

The shared part of the shipped classifiers (digits 8x8, MNIST 28x28): shape checks, batching
without gradients, and loading from ``difflab/assets`` (safetensors weights + JSON metadata,
never a pickle). Each subclass fixes ``input_shape`` and defines ``_penultimate``.
"""

import json
from collections.abc import Callable
from importlib import resources
from typing import Any, ClassVar

import numpy as np
import torch
from safetensors.torch import load_file
from torch import nn

from difflab.errors import DifflabError
from difflab.metrics._inputs import ArrayLike, as_float64

_BATCH = 1024


def asset(name: str) -> Any:
    """A file in the package's ``assets`` folder (a Traversable)."""
    return resources.files("difflab").joinpath("assets", name)


def asset_metadata(stem: str) -> dict:
    """The JSON metadata ``<stem>.json`` of a shipped classifier (architecture, accuracy, command)."""
    return json.loads(asset(f"{stem}.json").read_text())


class FeatureClassifier(nn.Module):
    """Base class: ``forward`` gives logits, :meth:`features` the penultimate (pre-ReLU) features."""

    input_shape: ClassVar[tuple[int, int, int]]
    name: ClassVar[str]

    def _penultimate(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``(N, n_classes)`` for images ``(N, *input_shape)`` in [-1, 1]."""
        return self.head(torch.relu(self._penultimate(x)))

    def _batched(self, x: ArrayLike, fn: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor:
        arr = as_float64(x, "x")
        if arr.shape[1:] == self.input_shape[1:] and self.input_shape[0] == 1:
            arr = arr[:, None]
        if arr.shape[1:] != self.input_shape:
            shape = ", ".join(map(str, self.input_shape))
            raise DifflabError(f"{self.name} classifier needs images shaped (N, {shape}), got {arr.shape}")
        xt = torch.from_numpy(arr.astype(np.float32))
        param = next(self.parameters())
        with torch.no_grad():
            outs = [
                fn(xt[i : i + _BATCH].to(param.device, param.dtype)).float().cpu() for i in range(0, len(xt), _BATCH)
            ]
        return torch.cat(outs)

    def features(self, x: ArrayLike) -> torch.Tensor:
        """Penultimate features ``(N, hidden)`` of images ``(N, *input_shape)`` (one channel may be omitted)."""
        return self._batched(x, self._penultimate)

    def predict(self, x: ArrayLike) -> torch.Tensor:
        """Predicted labels ``(N,)`` int64."""
        return self._batched(x, self.forward).argmax(dim=1).to(torch.int64)


def load_shipped(cls: type[FeatureClassifier], stem: str, script: str) -> FeatureClassifier:
    """Build ``cls`` from ``assets/<stem>.json`` and load ``assets/<stem>.safetensors``, in eval mode.

    Raises:
        DifflabError: if either file is missing (naming the script that rebuilds them).
    """
    weights, meta = asset(f"{stem}.safetensors"), asset(f"{stem}.json")
    if not (weights.is_file() and meta.is_file()):
        raise DifflabError(
            f"shipped {cls.name} classifier is missing from difflab/assets; run `python {script}` to rebuild it"
        )
    arch = json.loads(meta.read_text())["architecture"]
    model = cls(channels=tuple(arch["channels"]), hidden=arch["hidden"], n_classes=arch["n_classes"])
    with resources.as_file(weights) as path:
        model.load_state_dict(load_file(str(path)))
    model.eval().requires_grad_(False)
    return model
