"""The two containers every data source returns: :class:`Normaliser` and :class:`Dataset`.

Datasets are stored *normalised* (the space the model sees); the normaliser maps
model outputs back to the data's original units.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import torch

from difflab.errors import DifflabError

if TYPE_CHECKING:
    from difflab.data.stream import StreamedExamples

ArrayLike = TypeVar("ArrayLike", torch.Tensor, np.ndarray)


def _as_param(value: float | np.ndarray | list) -> float | np.ndarray:
    """A scalar stays a Python float; anything else becomes a float64 array."""
    arr = np.asarray(value, dtype=np.float64)
    return float(arr) if arr.ndim == 0 else arr


def _to_jsonable(value: float | np.ndarray) -> float | list:
    return value.tolist() if isinstance(value, np.ndarray) else float(value)


@dataclass(eq=False)
class Normaliser:
    """Affine map ``x_norm = (x - shift) / scale`` and its inverse.

    ``shift`` and ``scale`` are scalars or per-feature arrays shaped like one
    example (e.g. ``(D,)`` for vectors); they broadcast over leading batch dims.

    Attributes:
        shift: Subtracted before scaling, scalar or per-feature array.
        scale: Divisor, strictly positive, scalar or per-feature array.
        value_range: ``(low, high)`` range of the original data; ``decode``
            clamps to it (used for images), ``None`` for unbounded data.
    """

    shift: float | np.ndarray = 0.0
    scale: float | np.ndarray = 1.0
    value_range: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        self.shift = _as_param(self.shift)
        self.scale = _as_param(self.scale)
        if not np.all(np.asarray(self.scale) > 0) or not np.all(np.isfinite(self.scale)):
            raise DifflabError("Normaliser scale must be finite and > 0 everywhere")
        if not np.all(np.isfinite(self.shift)):
            raise DifflabError("Normaliser shift must be finite")
        if self.value_range is not None:
            low, high = (float(v) for v in self.value_range)
            if not low < high:
                raise DifflabError(f"Normaliser value_range must have low < high, got {self.value_range}")
            self.value_range = (low, high)

    def __eq__(self, other: object) -> bool:
        # Arrays make the generated dataclass __eq__ ambiguous; compare the serialised form.
        return isinstance(other, Normaliser) and self.to_dict() == other.to_dict()

    def _params(self, x: ArrayLike) -> tuple[Any, Any]:
        if isinstance(x, torch.Tensor):
            dtype = x.dtype if x.is_floating_point() else torch.float32
            return (
                torch.as_tensor(self.shift, dtype=dtype, device=x.device),
                torch.as_tensor(self.scale, dtype=dtype, device=x.device),
            )
        return self.shift, self.scale

    @staticmethod
    def _float(x: ArrayLike) -> ArrayLike:
        if isinstance(x, torch.Tensor):
            return x if x.is_floating_point() else x.float()
        x = np.asarray(x)
        return x if np.issubdtype(x.dtype, np.floating) else x.astype(np.float32)

    @staticmethod
    def _like(result: Any, x: ArrayLike) -> ArrayLike:
        # numpy promotes float32 data with float64 parameters; keep the input's dtype.
        return result.astype(x.dtype, copy=False) if isinstance(x, np.ndarray) else result

    def encode(self, x: ArrayLike) -> ArrayLike:
        """Map original data to the normalised space.

        Args:
            x: ``(..., *shape)`` tensor or array in original units (integer
                input is promoted to float32).

        Returns:
            Same shape and type as ``x``, normalised.
        """
        x = self._float(x)
        shift, scale = self._params(x)
        return self._like((x - shift) / scale, x)

    def decode(self, x_norm: ArrayLike, clamp: bool = True) -> ArrayLike:
        """Map normalised values back to original units.

        Args:
            x_norm: ``(..., *shape)`` tensor or array in the normalised space.
            clamp: Clip to ``value_range`` when one is set.

        Returns:
            Same shape and type as ``x_norm``, in original units.
        """
        x_norm = self._float(x_norm)
        shift, scale = self._params(x_norm)
        x = x_norm * scale + shift
        if clamp and self.value_range is not None:
            low, high = self.value_range
            x = x.clamp(low, high) if isinstance(x, torch.Tensor) else np.clip(x, low, high)
        return self._like(x, x_norm)

    def to_dict(self) -> dict[str, Any]:
        """JSON/YAML-safe description (floats and nested lists only)."""
        return {
            "shift": _to_jsonable(self.shift),
            "scale": _to_jsonable(self.scale),
            "value_range": None if self.value_range is None else list(self.value_range),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Normaliser:
        """Inverse of :meth:`to_dict`."""
        unknown = set(d) - {"shift", "scale", "value_range"}
        if unknown:
            raise DifflabError(f"unknown normaliser key(s) {sorted(unknown)}; valid: shift, scale, value_range")
        value_range = d.get("value_range")
        return cls(
            shift=d.get("shift", 0.0),
            scale=d.get("scale", 1.0),
            value_range=None if value_range is None else tuple(value_range),
        )


@dataclass(repr=False, eq=False)
class Dataset:
    """A train/test pair of normalised examples with optional integer labels.

    Attributes:
        name: Registry name of the source (``"digits"``, ``"npy"``, ...).
        train: ``(N, *shape)`` float32, normalised; images are ``(C, H, W)``.
        test: ``(M, *shape)`` float32, normalised.
        train_labels: ``(N,)`` int64 or ``None``.
        test_labels: ``(M,)`` int64 or ``None``.
        num_classes: Number of label values; 0 when unlabelled.
        normaliser: Maps normalised values back to original units.
        meta: Source-specific facts (e.g. known GMM parameters, in normalised space). ``quantum``: the grid
            step of discrete data in original units (digits 1, 8-bit images 1/255), which likelihoods
            dequantise with (:func:`difflab.metrics.likelihood.bits_per_dim`); absent for continuous data.
        train_stream: The whole training split read example by example when it is too large for one tensor
            (``folder`` and ``npy`` images, :mod:`difflab.data.stream`); ``train`` then holds a seeded subset
            of it (what the process is fitted on). ``None``: ``train`` is the whole training split.
    """

    name: str
    train: torch.Tensor
    test: torch.Tensor
    train_labels: torch.Tensor | None = None
    test_labels: torch.Tensor | None = None
    num_classes: int = 0
    normaliser: Normaliser = field(default_factory=Normaliser)
    meta: dict[str, Any] = field(default_factory=dict)
    train_stream: StreamedExamples | None = None

    def __post_init__(self) -> None:
        # Internal invariants (loaders are library code), so plain ValueError.
        if self.train.dtype != torch.float32 or self.test.dtype != torch.float32:
            raise ValueError("Dataset tensors must be float32")
        if self.train.shape[1:] != self.test.shape[1:]:
            raise ValueError(f"train {tuple(self.train.shape)} and test {tuple(self.test.shape)} differ")
        for data, labels in ((self.train, self.train_labels), (self.test, self.test_labels)):
            if labels is not None and (labels.dtype != torch.int64 or labels.shape != data.shape[:1]):
                raise ValueError("labels must be int64 of shape (N,)")
        if (self.train_labels is None) != (self.test_labels is None):
            raise ValueError("train and test must both have labels or neither")

    @property
    def shape(self) -> tuple[int, ...]:
        """Per-example shape: ``(C, H, W)`` for images, ``(D,)`` for vectors."""
        return tuple(self.train.shape[1:])

    @property
    def n_train(self) -> int:
        """Examples in the training split (streamed ones included)."""
        return len(self.train_stream) if self.train_stream is not None else len(self.train)

    @property
    def is_image(self) -> bool:
        """True for ``(C, H, W)`` examples."""
        return len(self.shape) == 3

    def dequantisation_width(self) -> torch.Tensor:
        """One grid step of discrete data in normalised units, shaped like one example (float32).

        Training with ``data.dequantise`` adds ``width × (u − ½)``, u ~ U[0, 1), to each example: in
        original units exactly the centred uniform dequantisation that bits/dim scores.
        """
        quantum = self.meta.get("quantum")
        if quantum is None:
            raise DifflabError(
                f"data.dequantise needs discrete data (a dataset with a grid step); {self.name!r} is continuous"
            )
        scale = torch.as_tensor(np.asarray(self.normaliser.scale, dtype=np.float64))
        return (quantum / scale).broadcast_to(self.shape).to(torch.float32).contiguous()

    def __repr__(self) -> str:
        return (
            f"Dataset(name={self.name!r}, shape={self.shape}, n_train={self.n_train}, "
            f"n_test={len(self.test)}, num_classes={self.num_classes})"
        )
