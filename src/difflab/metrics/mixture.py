"""Fit of samples to a Gaussian mixture with known parameters (the gmm dataset).

Each sample is assigned to the component with the highest posterior
responsibility under the *true* mixture; the assignment fractions are compared
with the true weights (total variation), and each component's assigned samples
with its true mean and covariance (relative errors, averaged over components).
Exact where the components barely overlap; otherwise the same assignment bias
hits real data, so compare with the train-vs-test floor.
"""

import numpy as np
from scipy.special import logsumexp

from difflab.metrics._inputs import ArrayLike, as_float64


def mixture_fit(samples: ArrayLike, weights: ArrayLike, means: ArrayLike, covs: ArrayLike) -> dict[str, float]:
    """``mode_weight_tv``, ``mode_mean_error`` and ``mode_cov_error`` of ``samples (N, D)``.

    Args:
        samples: generated points ``(N, D)``.
        weights: the true mixture's mode weights ``(K,)``.
        means: its mode means ``(K, D)``.
        covs: its mode covariances ``(K, D, D)``.
    """
    x = as_float64(samples, "samples", min_n=2).reshape(len(samples), -1)
    w, mu, cov = (as_float64(a, name) for a, name in ((weights, "weights"), (means, "means"), (covs, "covs")))
    logp = np.empty((x.shape[0], len(w)))
    for k in range(len(w)):
        chol = np.linalg.cholesky(cov[k])
        z = np.linalg.solve(chol, (x - mu[k]).T)
        logp[:, k] = (
            np.log(w[k]) - 0.5 * (z**2).sum(0) - np.log(np.diag(chol)).sum() - 0.5 * x.shape[1] * np.log(2 * np.pi)
        )
    assign = np.argmax(logp - logsumexp(logp, axis=1, keepdims=True), axis=1)
    frac = np.bincount(assign, minlength=len(w)) / x.shape[0]
    mean_err, cov_err = [], []
    for k in range(len(w)):
        xk = x[assign == k]
        if len(xk) < 2:  # a lost mode: maximal error
            mean_err.append(1.0)
            cov_err.append(1.0)
            continue
        mean_err.append(np.linalg.norm(xk.mean(0) - mu[k]) / max(np.linalg.norm(mu[k]), 1e-12))
        cov_err.append(np.linalg.norm(np.cov(xk, rowvar=False) - cov[k]) / np.linalg.norm(cov[k]))
    return {
        "mode_weight_tv": float(0.5 * np.abs(frac - w).sum()),
        "mode_mean_error": float(np.mean(mean_err)),
        "mode_cov_error": float(np.mean(cov_err)),
    }
