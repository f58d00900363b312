"""mixture_fit: exact on samples of the true mixture, and it sees lost modes and wrong covariances."""

import numpy as np

from difflab.data.gmm import gmm_parameters, sample_gmm
from difflab.metrics.mixture import mixture_fit


def _params():
    p = gmm_parameters(4, 3, np.random.default_rng(0))
    p["means"] = p["means"] * 4  # well separated: assignment is (nearly) exact
    return p


def test_true_samples_score_near_zero_and_shrink_with_n():
    p = _params()
    small = mixture_fit(sample_gmm(p, 2000, np.random.default_rng(1))[0], **p)
    large = mixture_fit(sample_gmm(p, 50000, np.random.default_rng(1))[0], **p)
    assert large["mode_weight_tv"] < 0.01 and large["mode_cov_error"] < 0.05
    assert large["mode_cov_error"] < small["mode_cov_error"]


def test_lost_mode_and_inflated_covariance_are_seen():
    p = _params()
    x, labels = sample_gmm(p, 20000, np.random.default_rng(2))
    lost = mixture_fit(x[labels != 0], **p)
    assert abs(lost["mode_weight_tv"] - p["weights"][0]) < 0.02 and lost["mode_cov_error"] > 0.3
    blurred = mixture_fit(x + 0.5 * np.random.default_rng(3).standard_normal(x.shape), **p)
    assert blurred["mode_cov_error"] > 0.5
