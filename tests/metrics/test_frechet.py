import numpy as np
import pytest
import torch
from scipy.stats import ortho_group

from difflab.metrics import fd_from_features, frechet_distance, pca_fd


def analytic_fd_commuting(m1, a, m2, b):
    """Closed form for covariances sharing eigenvectors, eigenvalues a and b."""
    return float(np.sum((m1 - m2) ** 2) + np.sum((np.sqrt(a) - np.sqrt(b)) ** 2))


def test_exact_for_diagonal_moments():
    m1, m2 = np.array([0.0, 1.0, -2.0]), np.array([1.0, 1.0, 0.5])
    a, b = np.array([1.0, 4.0, 0.25]), np.array([9.0, 1.0, 0.25])
    got = frechet_distance(m1, np.diag(a), m2, np.diag(b))
    assert got == pytest.approx(analytic_fd_commuting(m1, a, m2, b), rel=1e-10)


def test_exact_for_commuting_non_diagonal_moments():
    q = ortho_group.rvs(5, random_state=1)
    a, b = np.linspace(0.5, 3.0, 5), np.linspace(2.0, 0.1, 5)
    m1, m2 = np.zeros(5), np.full(5, 0.3)
    got = frechet_distance(torch.tensor(m1), torch.tensor(q @ np.diag(a) @ q.T), m2, q @ np.diag(b) @ q.T)
    assert got == pytest.approx(analytic_fd_commuting(m1, a, m2, b), rel=1e-8)


def test_estimated_from_samples_matches_closed_form():
    rng = np.random.default_rng(0)
    m1, m2 = np.array([0.0, 0.0, 1.0]), np.array([1.0, -1.0, 1.0])
    a, b = np.array([1.0, 2.0, 0.5]), np.array([0.5, 2.0, 2.0])
    f1 = m1 + rng.standard_normal((20000, 3)) * np.sqrt(a)
    f2 = m2 + rng.standard_normal((20000, 3)) * np.sqrt(b)
    expected = analytic_fd_commuting(m1, a, m2, b)
    assert fd_from_features(f1, f2) == pytest.approx(expected, abs=0.05)


def test_identical_sets_give_zero():
    x = np.random.default_rng(0).standard_normal((200, 1, 4, 4))
    assert fd_from_features(x.reshape(200, -1), x.reshape(200, -1)) < 1e-8
    assert pca_fd(x, x) < 1e-8


def test_near_singular_covariances_are_finite_and_nonnegative():
    rng = np.random.default_rng(0)
    # 10 samples in 50 dims: rank-deficient covariances.
    f1, f2 = rng.standard_normal((10, 50)), rng.standard_normal((10, 50)) + 1.0
    d = fd_from_features(f1, f2)
    assert np.isfinite(d) and d > 40  # the mean shift alone contributes 50
    assert fd_from_features(f1, f1) < 1e-4
    # Exactly singular covariances (zero variance in one direction).
    cov = np.diag([1.0, 0.0])
    assert frechet_distance(np.zeros(2), cov, np.ones(2), cov) == pytest.approx(2.0, abs=1e-6)


def test_pca_fd_with_all_components_equals_full_fd():
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((300, 5)), rng.standard_normal((400, 5)) * 1.5 + 0.2
    # n_components is capped at D = 5; a full orthonormal rotation leaves FD unchanged.
    assert pca_fd(x, y, n_components=32) == pytest.approx(fd_from_features(x, y), rel=1e-8)


def test_pca_fd_fit_on_and_truncation():
    rng = np.random.default_rng(2)
    scales = np.array([3.0, 2.0, 0.01, 0.01])
    x = rng.standard_normal((500, 4)) * scales
    y = rng.standard_normal((500, 4)) * scales
    y[:, 3] += 5.0  # shift along a low-variance direction
    # Two components fitted on x miss the shifted direction; all four see it.
    assert pca_fd(y, x, n_components=2, fit_on=x) < 0.5
    assert pca_fd(y, x, n_components=4, fit_on=x) > 20.0
