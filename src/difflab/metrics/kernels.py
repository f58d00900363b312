"""Two-sample discrepancies: MMD (Gaussian kernel; KID's polynomial kernel) and the energy distance.

Unbiased estimator of MMD² from Gretton et al., *A Kernel Two-Sample Test*
(JMLR 2012, Lemma 6); bandwidth by the median heuristic when not given. KID
(Bińkowski et al., *Demystifying MMD GANs*, ICLR 2018) is the same estimator with
``k(a, b) = (a·b / D + 1)³`` on Inception features, averaged over random subsets.
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
    return _unbiased_mmd2(kxx, kyy, kxy)


def _unbiased_mmd2(kxx: np.ndarray, kyy: np.ndarray, kxy: np.ndarray) -> float:
    """Unbiased MMD² from the three kernel matrices (diagonals dropped: the k(x, x) bias terms)."""
    return float(_offdiag_mean(kxx) + _offdiag_mean(kyy) - 2.0 * kxy.mean())


def kid(
    f1: ArrayLike, f2: ArrayLike, *, subsets: int = 100, subset_size: int = 1000, seed: int = 0
) -> tuple[float, float]:
    """Kernel Inception Distance of two feature sets: mean and std of the subset MMD² estimates.

    Args:
        f1: features ``(N, D)`` (e.g. Inception pool3 of the samples); N >= 2.
        f2: features ``(M, D)`` (the reference).
        subsets: number of random subsets (without replacement within a subset).
        subset_size: rows per subset, capped at ``min(N, M)`` (torch-fidelity's defaults: 100 x 1000).
        seed: seed of the subset draws.

    Returns:
        ``(mean, std)`` of the unbiased MMD² with the cubic polynomial kernel over the subsets.
    """
    a, b = as_pair(f1, f2, ("f1", "f2"), min_n=2)
    a, b = flatten(a), flatten(b)
    if subsets < 1 or subset_size < 2:
        raise DifflabError(f"kid needs subsets >= 1 and subset_size >= 2, got {subsets} and {subset_size}")
    size = min(subset_size, len(a), len(b))
    rng = np.random.default_rng(seed)
    d = a.shape[1]
    values = []
    for _ in range(subsets):
        x = a[rng.choice(len(a), size, replace=False)]
        y = b[rng.choice(len(b), size, replace=False)]
        values.append(_unbiased_mmd2((x @ x.T / d + 1) ** 3, (y @ y.T / d + 1) ** 3, (x @ y.T / d + 1) ** 3))
    return float(np.mean(values)), float(np.std(values))
