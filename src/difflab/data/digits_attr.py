"""Two-attribute digits: the bundled 8x8 digits on one of several background levels.

Built for trajectory representations (Mittal et al., arXiv 2210.13774, whose
multi-task analyses use Colored-MNIST): digit identity is a fine attribute that
forward noise destroys early, the background level a coarse one (the image
mean) that survives to large t. The level of each image is drawn by a fixed
generator, independently of its digit, so the two attributes are independent.
"""

from __future__ import annotations

import numpy as np

from difflab.data._common import as_float_tensor, as_label_tensor, check_choice, check_int
from difflab.data.base import Dataset
from difflab.data.digits import digits_normaliser
from difflab.data.digits_split import digits_split

ATTRIBUTES = ("joint", "digit", "background")
_LEVEL_SEED = 1234  # fixed: the dataset is the same on every load


def background_levels(levels: int) -> np.ndarray:
    """The raw background values (0..16 scale) of ``levels`` evenly spaced levels, 0 up to 8."""
    return np.linspace(0.0, 8.0, levels).astype(np.float32)


def with_background(x: np.ndarray, level: np.ndarray) -> np.ndarray:
    """Raw images ``(N, 8, 8)`` in [0, 16] on background ``level`` ``(N,)``: ``b + x · (16 - b) / 16``."""
    b = level[:, None, None]
    return b + x * (16.0 - b) / 16.0


def split_labels(joint, levels: int):
    """``(digit, background)`` of joint labels ``digit · levels + background`` (arrays or tensors)."""
    return joint // levels, joint % levels


def load_digits_attr(*, label: str = "joint", levels: int = 3) -> Dataset:
    """Digits on ``levels`` background levels (1437 train / 360 test, ``(1, 8, 8)`` in [-1, 1]).

    Args:
        label: which attribute the labels are: ``joint`` (digit · levels + background,
            10 · levels classes), ``digit`` (10) or ``background`` (levels).
        levels: number of background levels, evenly spaced from 0 to 8 (of 16).
    """
    label = check_choice("digits-attr", "label", label, ATTRIBUTES)
    levels = check_int("digits-attr", "levels", int(levels) if str(levels).isdigit() else levels, minimum=2)
    x_tr, y_tr, x_te, y_te = digits_split()
    rng = np.random.default_rng(_LEVEL_SEED)
    bg_tr, bg_te = rng.integers(0, levels, len(x_tr)), rng.integers(0, levels, len(x_te))
    values = background_levels(levels)
    norm = digits_normaliser()

    def labels(digit, bg):
        return {"joint": digit * levels + bg, "digit": digit, "background": bg}[label]

    return Dataset(
        name="digits-attr",
        train=as_float_tensor(norm.encode(with_background(x_tr, values[bg_tr])[:, None])),
        test=as_float_tensor(norm.encode(with_background(x_te, values[bg_te])[:, None])),
        train_labels=as_label_tensor(labels(y_tr, bg_tr)),
        test_labels=as_label_tensor(labels(y_te, bg_te)),
        num_classes={"joint": 10 * levels, "digit": 10, "background": levels}[label],
        normaliser=norm,
        meta={"levels": levels, "attributes": ["digit", "background"]},
    )
