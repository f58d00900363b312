"""scikit-learn's 8x8 handwritten digits with the fixed split of :mod:`digits_split`."""

from __future__ import annotations

from difflab.data._common import as_float_tensor, as_label_tensor
from difflab.data.base import Dataset, Normaliser
from difflab.data.digits_split import digits_split


def digits_normaliser() -> Normaliser:
    """Raw [0, 16] -> [-1, 1] as exactly ``x / 8 - 1`` (the shipped digits classifier assumes it)."""
    return Normaliser(shift=8.0, scale=8.0, value_range=(0.0, 16.0))


def load_digits() -> Dataset:
    """The digits dataset: 1437 train / 360 test images ``(1, 8, 8)`` in [-1, 1], 10 labels."""
    x_tr, y_tr, x_te, y_te = digits_split()
    norm = digits_normaliser()
    return Dataset(
        name="digits",
        train=as_float_tensor(norm.encode(x_tr[:, None])),
        test=as_float_tensor(norm.encode(x_te[:, None])),
        train_labels=as_label_tensor(y_tr),
        test_labels=as_label_tensor(y_te),
        num_classes=10,
        normaliser=norm,
        meta={"quantum": 1.0},  # integer levels 0..16: likelihoods dequantise with this grid step
    )
