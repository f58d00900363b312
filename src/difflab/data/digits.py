"""scikit-learn's 8x8 handwritten digits with the fixed split of :mod:`digits_split`.

``view`` gives a second, *paired* domain of the same images (DMZ domain transfer, issue 15):
image i of ``view=inverted`` is image i of ``view=plain`` with ink and paper swapped, so the
pairs are known exactly and the shipped classifier reads a sample after :func:`undo_view`.
"""

from __future__ import annotations

import torch

from difflab.data._common import as_float_tensor, as_label_tensor, check_choice
from difflab.data.base import Dataset, Normaliser
from difflab.data.digits_split import digits_split

# plain: as scanned; inverted: raw 16 - x (exactly -x in [-1, 1]); rot90: a quarter turn counter-clockwise.
VIEWS = ("plain", "inverted", "rot90")


def digits_normaliser() -> Normaliser:
    """Raw [0, 16] -> [-1, 1] as exactly ``x / 8 - 1`` (the shipped digits classifier assumes it)."""
    return Normaliser(shift=8.0, scale=8.0, value_range=(0.0, 16.0))


def apply_view(x: torch.Tensor, view: str) -> torch.Tensor:
    """Normalised digits ``(N, 1, 8, 8)`` seen in ``view`` (exact: no interpolation, no rounding)."""
    check_choice("digits", "view", view, VIEWS)
    if view == "inverted":
        return -x
    if view == "rot90":
        return torch.rot90(x, 1, dims=(-2, -1)).contiguous()
    return x


def undo_view(x: torch.Tensor, view: str) -> torch.Tensor:
    """The inverse of :func:`apply_view`: back to the plain digits the shipped classifier reads."""
    check_choice("digits", "view", view, VIEWS)
    return torch.rot90(x, -1, dims=(-2, -1)).contiguous() if view == "rot90" else apply_view(x, view)


def load_digits(*, view: str = "plain") -> Dataset:
    """The digits dataset: 1437 train / 360 test images ``(1, 8, 8)`` in [-1, 1], 10 labels.

    Args:
        view: ``plain``; ``inverted`` (ink and paper swapped: raw 16 - x) or ``rot90`` (a quarter
            turn counter-clockwise), a domain paired image by image with ``plain``.
    """
    check_choice("digits", "view", view, VIEWS)
    x_tr, y_tr, x_te, y_te = digits_split()
    norm = digits_normaliser()
    return Dataset(
        name="digits",
        train=apply_view(as_float_tensor(norm.encode(x_tr[:, None])), view),
        test=apply_view(as_float_tensor(norm.encode(x_te[:, None])), view),
        train_labels=as_label_tensor(y_tr),
        test_labels=as_label_tensor(y_te),
        num_classes=10,
        normaliser=norm,
        # integer levels 0..16: likelihoods dequantise with this grid step (kept by both views)
        meta={"quantum": 1.0, "view": view},
    )
