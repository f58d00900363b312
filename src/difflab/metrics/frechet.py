"""Fréchet distance between Gaussians fitted to feature sets.

``d² = ||μ₁ − μ₂||² + tr(Σ₁ + Σ₂ − 2 (Σ₁Σ₂)^{1/2})`` — the squared 2-Wasserstein
distance between two Gaussians, as used by FID (Heusel et al., *GANs Trained by
a Two Time-Scale Update Rule Converge to a Local Nash Equilibrium*, 2017).
Here it is applied to PCA coordinates (:func:`pca_fd`) and to the shipped
digits classifier's features (``classifier_fd``).
"""

import warnings

import numpy as np
import scipy.linalg

from difflab.errors import DifflabError
from difflab.metrics._inputs import ArrayLike, as_float64, as_pair, flatten

_EPS = 1e-6


def _sqrtm_product(cov1: np.ndarray, cov2: np.ndarray) -> np.ndarray:
    """Return ``(Σ₁Σ₂)^{1/2}``, retrying with a diagonal offset if it is singular."""
    with warnings.catch_warnings():
        # Singular products (fewer samples than dimensions) are expected and
        # handled below; scipy's LinAlgWarning would only be noise.
        warnings.simplefilter("ignore", scipy.linalg.LinAlgWarning)
        covmean = scipy.linalg.sqrtm(cov1 @ cov2)
        if not np.all(np.isfinite(covmean)):
            # A tiny ridge makes the root well defined when sqrtm blows up.
            offset = np.eye(cov1.shape[0]) * _EPS
            covmean = scipy.linalg.sqrtm((cov1 + offset) @ (cov2 + offset))
    return covmean


def frechet_distance(mu1: ArrayLike, cov1: ArrayLike, mu2: ArrayLike, cov2: ArrayLike) -> float:
    """Fréchet (squared 2-Wasserstein) distance between two Gaussians.

    Args:
        mu1: mean ``(D,)``.
        cov1: covariance ``(D, D)``.
        mu2: mean ``(D,)``.
        cov2: covariance ``(D, D)``.

    Returns:
        The distance, a non-negative float (computed in float64).
    """
    m1, m2 = as_float64(mu1, "mu1"), as_float64(mu2, "mu2")
    c1, c2 = as_float64(cov1, "cov1"), as_float64(cov2, "cov2")
    d = m1.shape[0]
    if m1.shape != (d,) or m2.shape != (d,):
        raise DifflabError(f"means must both be shaped (D,), got {m1.shape} and {m2.shape}")
    if c1.shape != (d, d) or c2.shape != (d, d):
        raise DifflabError(f"covariances must be shaped ({d}, {d}), got {c1.shape} and {c2.shape}")
    c1, c2 = (c1 + c1.T) / 2, (c2 + c2.T) / 2
    covmean = _sqrtm_product(c1, c2)
    # Rounding leaves small imaginary parts; the trace of the true root is real.
    tr_covmean = float(np.real(np.trace(covmean)))
    diff = m1 - m2
    value = float(diff @ diff + np.trace(c1) + np.trace(c2) - 2.0 * tr_covmean)
    # Negative values only come from rounding (the true distance is >= 0).
    return max(value, 0.0)


def gaussian_moments(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean ``(D,)`` and unbiased covariance ``(D, D)`` of features ``(N, D)``."""
    mu = features.mean(axis=0)
    cov = np.atleast_2d(np.cov(features, rowvar=False))
    return mu, cov


def fd_from_features(f1: ArrayLike, f2: ArrayLike) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets.

    Args:
        f1: features ``(N, D)`` (extra trailing dims are flattened).
        f2: features ``(M, D)``.

    Returns:
        The Fréchet distance (float).
    """
    a, b = as_pair(f1, f2, ("f1", "f2"), min_n=2)
    return frechet_distance(*gaussian_moments(flatten(a)), *gaussian_moments(flatten(b)))


def pca_fd(samples: ArrayLike, reference: ArrayLike, n_components: int = 32, fit_on: ArrayLike | None = None) -> float:
    """Fréchet distance in a PCA space fitted on the reference (or ``fit_on``).

    Args:
        samples: generated samples ``(N, *shape)``.
        reference: held-out data ``(M, *shape)``.
        n_components: PCA dimension; capped at ``D = prod(shape)`` and at the
            number of rows PCA is fitted on.
        fit_on: data ``(K, *shape)`` to fit the PCA on, e.g. the training set;
            defaults to ``reference``.

    Returns:
        The Fréchet distance between the projected sets (float).
    """
    x, y = as_pair(samples, reference, min_n=2)
    if n_components < 1:
        raise DifflabError(f"n_components must be >= 1, got {n_components}")
    basis_data = y if fit_on is None else as_pair(fit_on, y, ("fit_on", "reference"), min_n=2)[0]
    fit = flatten(basis_data)
    mean = fit.mean(axis=0)
    _, _, vt = np.linalg.svd(fit - mean, full_matrices=False)
    k = min(n_components, vt.shape[0])
    proj = vt[:k].T  # (D, k)
    return fd_from_features((flatten(x) - mean) @ proj, (flatten(y) - mean) @ proj)
