"""Standard 2-D toy distributions (as in FFJORD, Grathwohl et al. 2019), standardised."""

from __future__ import annotations

from typing import Literal

import numpy as np

from difflab.data._common import as_float_tensor, as_label_tensor, check_choice, check_int
from difflab.data.base import Dataset, Normaliser

Toy2D = Literal["8gaussians", "moons", "swissroll", "checkerboard"]
TOY2D_NAMES: tuple[str, ...] = ("8gaussians", "moons", "swissroll", "checkerboard")


def sample_toy2d(which: Toy2D, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray | None]:
    """Raw samples ``(n, 2)`` and labels ``(n,)`` (mode/moon index) or None."""
    if which == "8gaussians":
        labels = rng.integers(8, size=n)
        angle = labels * (np.pi / 4)
        centres = 2.0 * np.stack([np.cos(angle), np.sin(angle)], axis=1)
        return centres + 0.2 * rng.standard_normal((n, 2)), labels
    if which == "moons":
        labels = rng.integers(2, size=n)
        t = rng.uniform(0.0, np.pi, size=n)
        upper = np.stack([np.cos(t), np.sin(t)], axis=1)
        lower = np.stack([1.0 - np.cos(t), 0.5 - np.sin(t)], axis=1)
        x = np.where(labels[:, None] == 0, upper, lower)
        return x + 0.1 * rng.standard_normal((n, 2)), labels
    if which == "swissroll":
        t = 1.5 * np.pi * (1.0 + 2.0 * rng.uniform(size=n))
        x = np.stack([t * np.cos(t), t * np.sin(t)], axis=1) / 5.0
        return x + 0.1 * rng.standard_normal((n, 2)), None
    # checkerboard on [-4, 4]^2: alternate 2x2 squares are filled.
    x1 = rng.uniform(-2.0, 2.0, size=n)
    x2 = rng.uniform(0.0, 1.0, size=n) - 2.0 * rng.integers(0, 2, size=n) + np.floor(x1) % 2
    return 2.0 * np.stack([x1, x2], axis=1), None


def load_toy2d(*, which: Toy2D = "8gaussians", n_train: int = 10000, n_test: int = 2000, seed: int = 0) -> Dataset:
    """A 2-D toy dataset, vectors ``(2,)`` standardised with the train mean and std.

    Args:
        which: ``"8gaussians"``, ``"moons"``, ``"swissroll"`` or ``"checkerboard"``.
        n_train: Number of training points.
        n_test: Number of test points.
        seed: Seed; train and test use independent streams.
    """
    check_choice("toy2d", "which", which, TOY2D_NAMES)
    n_train = check_int("toy2d", "n_train", n_train, minimum=2)
    n_test = check_int("toy2d", "n_test", n_test)
    seed = check_int("toy2d", "seed", seed, minimum=0)
    train_rng, test_rng = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(2))
    x_tr, y_tr = sample_toy2d(which, n_train, train_rng)
    x_te, y_te = sample_toy2d(which, n_test, test_rng)
    norm = Normaliser(shift=x_tr.mean(axis=0), scale=x_tr.std(axis=0))
    return Dataset(
        name="toy2d",
        train=as_float_tensor(norm.encode(x_tr)),
        test=as_float_tensor(norm.encode(x_te)),
        train_labels=as_label_tensor(y_tr),
        test_labels=as_label_tensor(y_te),
        num_classes={"8gaussians": 8, "moons": 2}.get(which, 0),
        normaliser=norm,
        meta={"which": which},
    )
