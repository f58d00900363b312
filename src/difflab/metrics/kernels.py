"""Two-sample discrepancies: MMD with a Gaussian (RBF) kernel and the energy distance.

Unbiased estimator of MMD² from Gretton et al., *A Kernel Two-Sample Test*
(JMLR 2012, Lemma 6); bandwidth by the median heuristic when not given.
Energy distance (Székely & Rizzo 2013): ``2 E‖X − Y‖ − E‖X − X′‖ − E‖Y − Y′‖``, zero iff
the laws agree; it is MMD² with the distance-induced kernel, and twice the expected
energy score (β = 1, λ = 1, ``objectives/scoring.py``) of X at Y ~ Q minus E‖Y − Y′‖.
"""

import numpy as np

from difflab.errors import DifflabError
from difflab.metrics._inputs import ArrayLike, as_pair, flatten

# The median heuristic only needs a robust estimate; cap its cost on big sets.
_MEDIAN_MAX_POINTS = 1000


def _sq_dists(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise squared Euclidean distances ``(N, M)`` between rows of ``a`` and ``b``."""
    d = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * a @ b.T
    return np.maximum(d, 0.0)


def median_bandwidth(x: np.ndarray, y: np.ndarray) -> float:
    """Median pairwise distance of the pooled rows (deterministic subsample)."""
    pooled = np.concatenate([x, y])
    if len(pooled) > _MEDIAN_MAX_POINTS:
        idx = np.random.default_rng(0).choice(len(pooled), _MEDIAN_MAX_POINTS, replace=False)
        pooled = pooled[idx]
    d2 = _sq_dists(pooled, pooled)[np.triu_indices(len(pooled), k=1)]
    h = float(np.sqrt(np.median(d2)))
    return h if h > 0 else 1.0  # all points equal: any bandwidth gives MMD = 0


def _offdiag_mean(d: np.ndarray) -> float:
    """Mean of a square matrix without its diagonal (the U-statistic's i ≠ j)."""
    n = len(d)
    return float((d.sum() - np.trace(d)) / (n * (n - 1)))


def energy_distance(x: ArrayLike, y: ArrayLike) -> float:
    """Unbiased energy distance ``2 E‖X − Y‖ − E‖X − X′‖ − E‖Y − Y′‖`` (i ≠ j in the within-set terms).

    Args:
        x: samples ``(N, *shape)``, flattened to ``(N, D)``; N >= 2. A point mass is N copies of one point.
        y: samples ``(M, *shape)``; M >= 2.

    Returns:
        The estimate (float, in the data's units; can be slightly negative when the laws agree).
    """
    a, b = as_pair(x, y, ("x", "y"), min_n=2)
    a, b = flatten(a), flatten(b)
    dxy = np.sqrt(_sq_dists(a, b)).mean()
    return float(2.0 * dxy - _offdiag_mean(np.sqrt(_sq_dists(a, a))) - _offdiag_mean(np.sqrt(_sq_dists(b, b))))


def mmd_rbf(x: ArrayLike, y: ArrayLike, bandwidth: float | None = None) -> float:
    """Unbiased MMD² with ``k(a, b) = exp(-||a - b||² / (2 h²))``.

    Args:
        x: samples ``(N, *shape)``, flattened to ``(N, D)``; N >= 2.
        y: samples ``(M, *shape)``; M >= 2.
        bandwidth: kernel width ``h``; the median pairwise distance of the
            pooled sets when None.

    Returns:
        The unbiased MMD² estimate (float; can be slightly negative when the
        distributions are equal).
    """
    a, b = as_pair(x, y, ("x", "y"), min_n=2)
    a, b = flatten(a), flatten(b)
    if bandwidth is None:
        bandwidth = median_bandwidth(a, b)
    if not bandwidth > 0:
        raise DifflabError(f"bandwidth must be positive, got {bandwidth}")
    gamma = 1.0 / (2.0 * bandwidth**2)
    kxx = np.exp(-gamma * _sq_dists(a, a))
    kyy = np.exp(-gamma * _sq_dists(b, b))
    kxy = np.exp(-gamma * _sq_dists(a, b))
    # Dropping the diagonals removes the k(x, x) = 1 bias terms.
    return float(_offdiag_mean(kxx) + _offdiag_mean(kyy) - 2.0 * kxy.mean())
