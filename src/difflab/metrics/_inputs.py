"""Input checks shared by every metric.

Metrics accept torch tensors or numpy arrays shaped ``(N, *shape)`` and do
their arithmetic in float64 numpy; these helpers convert once and turn bad
input (empty sets, NaN, mismatched shapes) into :class:`DifflabError`.
"""

from typing import Any

import numpy as np
import torch

from difflab.errors import DifflabError

ArrayLike = torch.Tensor | np.ndarray


def as_float64(x: Any, name: str, *, min_n: int = 1) -> np.ndarray:
    """Convert a sample set to a finite float64 array.

    Args:
        x: tensor or array ``(N, *shape)``.
        name: argument name used in error messages.
        min_n: the fewest samples the metric needs.

    Returns:
        float64 array ``(N, *shape)``.
    """
    if isinstance(x, torch.Tensor):
        x = x.detach().to("cpu", torch.float64).numpy()
    elif isinstance(x, np.ndarray):
        x = x.astype(np.float64, copy=False)
    else:
        raise DifflabError(f"{name} must be a torch.Tensor or numpy array, got {type(x).__name__}")
    if x.ndim < 1:
        raise DifflabError(f"{name} must be shaped (N, ...), got a scalar")
    if x.shape[0] < min_n:
        raise DifflabError(f"{name} has {x.shape[0]} samples; this metric needs at least {min_n}")
    if x.size == 0:
        raise DifflabError(f"{name} is empty (shape {tuple(x.shape)}); pass non-empty samples")
    if not np.all(np.isfinite(x)):
        raise DifflabError(f"{name} contains NaN or inf; check the sampler output before scoring")
    return x


def as_pair(
    x: Any, y: Any, names: tuple[str, str] = ("samples", "reference"), *, min_n: int = 1
) -> tuple[np.ndarray, np.ndarray]:
    """Convert two sample sets and check that their per-sample shapes agree.

    Returns:
        ``(x, y)`` float64 arrays ``(N, *shape)`` and ``(M, *shape)``.
    """
    a = as_float64(x, names[0], min_n=min_n)
    b = as_float64(y, names[1], min_n=min_n)
    if a.shape[1:] != b.shape[1:]:
        raise DifflabError(
            f"{names[0]} has per-sample shape {a.shape[1:]} but {names[1]} has {b.shape[1:]}; "
            "both must be in the same (normalised) data layout"
        )
    return a, b


def flatten(x: np.ndarray) -> np.ndarray:
    """Reshape ``(N, *shape)`` to ``(N, D)``."""
    return x.reshape(x.shape[0], -1)
