"""Memorisation check: are samples closer to the training set than new data is?

Each sample's L2 distance to its nearest training example is compared with the
same distance for held-out test examples (the baseline). Copies of training
data give distances far below the baseline (cf. Carlini et al., *Extracting
Training Data from Diffusion Models*, 2023, and Somepalli et al., 2023).
"""

import numpy as np
import torch

from difflab.errors import DifflabError
from difflab.metrics._inputs import ArrayLike, as_float64, flatten

_CHUNK = 1024


def nearest_distances(queries: np.ndarray, bank: np.ndarray) -> np.ndarray:
    """L2 distance ``(N,)`` from each query row ``(N, D)`` to its nearest row of ``bank`` ``(M, D)``."""
    bank_t = torch.from_numpy(bank)
    out = [
        torch.cdist(torch.from_numpy(queries[i : i + _CHUNK]), bank_t).min(dim=1).values
        for i in range(0, len(queries), _CHUNK)
    ]
    return torch.cat(out).numpy()


def memorisation(samples: ArrayLike, train: ArrayLike, test: ArrayLike) -> dict[str, float]:
    """Compare sample-to-train nearest-neighbour distances with the test-to-train baseline.

    Args:
        samples: generated samples ``(N, *shape)``.
        train: training data ``(M, *shape)``.
        test: held-out data ``(K, *shape)``, none of it in ``train``.

    Returns:
        Dict with ``nn_dist_median``, ``nn_dist_min`` (samples to train),
        ``baseline_median``, ``baseline_p01`` (test to train), ``ratio`` =
        ``nn_dist_median / baseline_median`` (≈ 1 for new data, ≪ 1 means
        copying) and ``frac_closer_than_baseline_p01`` (fraction of samples
        closer to train than the 1st percentile of test-to-train distances).
    """
    s = as_float64(samples, "samples")
    tr = as_float64(train, "train")
    te = as_float64(test, "test")
    for name, arr in (("train", tr), ("test", te)):
        if arr.shape[1:] != s.shape[1:]:
            raise DifflabError(
                f"{name} has per-sample shape {arr.shape[1:]} but samples have {s.shape[1:]}; use the same data layout"
            )
    bank = flatten(tr)
    nn = nearest_distances(flatten(s), bank)
    base = nearest_distances(flatten(te), bank)
    base_median = float(np.median(base))
    if base_median <= 0:
        raise DifflabError("test set duplicates the training set (median distance 0); pass held-out data as test")
    p01 = float(np.percentile(base, 1))
    nn_median = float(np.median(nn))
    return {
        "nn_dist_median": nn_median,
        "nn_dist_min": float(nn.min()),
        "baseline_median": base_median,
        "baseline_p01": p01,
        "ratio": nn_median / base_median,
        "frac_closer_than_baseline_p01": float(np.mean(nn < p01)),
    }
