"""A Gaussian mixture with known parameters: the exact oracle for denoiser tests.

For Gaussian-mixture data the optimal denoiser E[x0 | x_t] is analytic, so the
parameters are published in ``Dataset.meta`` (identity normaliser: the space
the model sees is the space of the parameters).
"""

from __future__ import annotations

import numpy as np
import torch

from difflab.data._common import as_float_tensor, as_label_tensor, check_int
from difflab.data.base import Dataset, Normaliser


def gmm_parameters(dim: int, n_components: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Random mixture parameters.

    Weights are Dirichlet(5) (no vanishing modes), means standard normal,
    covariances ``Q diag(l) Q^T`` with a random rotation ``Q`` and ``l ~ U(0.05, 0.5)``.

    Returns:
        ``{"weights": (K,), "means": (K, D), "covs": (K, D, D)}``, float64.
    """
    weights = rng.dirichlet(np.full(n_components, 5.0))
    means = rng.standard_normal((n_components, dim))
    covs = np.empty((n_components, dim, dim))
    for k in range(n_components):
        q, r = np.linalg.qr(rng.standard_normal((dim, dim)))
        q = q * np.sign(np.diag(r))  # Haar-distributed rotation
        covs[k] = (q * rng.uniform(0.05, 0.5, size=dim)) @ q.T
        covs[k] = 0.5 * (covs[k] + covs[k].T)
    return {"weights": weights, "means": means, "covs": covs}


def sample_gmm(params: dict[str, np.ndarray], n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``n`` samples ``(n, D)`` and their mode indices ``(n,)``."""
    weights, means, covs = params["weights"], params["means"], params["covs"]
    labels = rng.choice(len(weights), size=n, p=weights)
    z = rng.standard_normal((n, means.shape[1]))
    x = np.empty_like(z)
    for k in range(len(weights)):  # per component: avoids an (n, D, D) gather
        idx = labels == k
        x[idx] = means[k] + z[idx] @ np.linalg.cholesky(covs[k]).T
    return x, labels


def load_gmm(
    *, dim: int = 2, n_components: int = 4, n_train: int = 10000, n_test: int = 2000, seed: int = 0
) -> Dataset:
    """Gaussian-mixture vectors ``(dim,)``; labels are mode indices.

    ``meta`` holds float64 tensors ``weights (K,)``, ``means (K, D)`` and
    ``covs (K, D, D)`` of the distribution the samples were drawn from.

    Args:
        dim: Dimension D.
        n_components: Number of modes K.
        n_train: Number of training points.
        n_test: Number of test points.
        seed: Fixes the parameters and the samples.
    """
    dim = check_int("gmm", "dim", dim)
    k = check_int("gmm", "n_components", n_components)
    n_train = check_int("gmm", "n_train", n_train)
    n_test = check_int("gmm", "n_test", n_test)
    seed = check_int("gmm", "seed", seed, minimum=0)
    param_rng, train_rng, test_rng = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(3))
    params = gmm_parameters(dim, k, param_rng)
    x_tr, y_tr = sample_gmm(params, n_train, train_rng)
    x_te, y_te = sample_gmm(params, n_test, test_rng)
    return Dataset(
        name="gmm",
        train=as_float_tensor(x_tr),
        test=as_float_tensor(x_te),
        train_labels=as_label_tensor(y_tr),
        test_labels=as_label_tensor(y_te),
        num_classes=k,
        normaliser=Normaliser(),
        meta={key: torch.from_numpy(v) for key, v in params.items()},
    )
