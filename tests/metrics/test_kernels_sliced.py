import numpy as np
import pytest
import torch

from difflab.metrics import mmd_rbf, sliced_wasserstein


def test_mmd_exact_small_example():
    x, y = np.array([[0.0], [1.0]]), np.array([[0.0], [2.0]])
    kxy = (1 + np.exp(-2.0) + 2 * np.exp(-0.5)) / 4
    expected = np.exp(-0.5) + np.exp(-2.0) - 2 * kxy
    assert mmd_rbf(x, y, bandwidth=1.0) == pytest.approx(expected, rel=1e-12)


def test_mmd_identical_and_same_distribution_near_zero():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((300, 8))
    # Identical sets: the unbiased estimator is -2(1 - mean off-diag k)/n, so |MMD²| < 2/n.
    assert abs(mmd_rbf(x, x)) < 2 / 300
    assert abs(mmd_rbf(x, rng.standard_normal((300, 8)))) < 0.01


def test_mmd_grows_with_mean_shift():
    rng = np.random.default_rng(0)
    x, noise = rng.standard_normal((200, 4)), rng.standard_normal((200, 4))
    values = [mmd_rbf(x, noise + s, bandwidth=2.0) for s in (0.0, 0.5, 1.0, 2.0)]
    assert values == sorted(values) and values[-1] > 10 * abs(values[0])
    assert mmd_rbf(x, torch.tensor(noise + 2.0)) > 0.1  # median heuristic too


def test_swd_of_shifted_1d_sets_equals_shift():
    x = np.random.default_rng(0).standard_normal((100, 1))
    assert sliced_wasserstein(x, x + 3.0, n_projections=8) == pytest.approx(3.0, abs=1e-12)
    assert sliced_wasserstein(x, x - 0.5, p=2) == pytest.approx(0.5, abs=1e-12)
    # Unequal sizes: y holds each point of x twice, so the distributions match up to the shift.
    assert sliced_wasserstein(x, np.concatenate([x, x]) + 1.0) == pytest.approx(1.0, abs=1e-12)


def test_swd_unequal_sizes_exact_quantiles():
    # W1 between uniform {0, 1} and uniform {0, 0.5, 1} is 1/6.
    x, y = np.array([[0.0], [1.0]]), np.array([[0.0], [0.5], [1.0]])
    assert sliced_wasserstein(x, y) == pytest.approx(1 / 6, abs=1e-12)


def test_swd_identical_deterministic_and_positive():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((50, 2, 3, 3))
    y = rng.standard_normal((70, 2, 3, 3)) + 1.0
    assert sliced_wasserstein(x, x) == 0.0
    assert sliced_wasserstein(x, y, seed=3) == sliced_wasserstein(x, y, seed=3)
    # Mean of |θ·s| over directions is at most |s| = sqrt(18).
    assert 0.3 < sliced_wasserstein(x, y) < np.sqrt(18)
