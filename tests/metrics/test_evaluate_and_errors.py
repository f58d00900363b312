import json

import numpy as np
import pytest

from difflab.data.digits_split import digits_split
from difflab.errors import DifflabError
from difflab.metrics import (
    classifier_fd,
    evaluate,
    fd_from_features,
    mmd_rbf,
    normalise_digits,
    pca_fd,
    sliced_wasserstein,
    spectrum_error,
)


def test_evaluate_digits_has_every_metric_and_is_json_safe():
    x_tr, _, x_te, _ = digits_split()
    train, test = normalise_digits(x_tr), normalise_digits(x_te)
    out = evaluate(train[:200], test, train=train, dataset="digits")
    expected = {
        "pca_fd",
        "mmd_rbf",
        "sliced_wasserstein",
        "spectrum_error",
        "classifier_fd",
        "memorisation_ratio",
        "memorisation_nn_dist_median",
        "memorisation_baseline_median",
        "memorisation_frac_closer_than_baseline_p01",
    }
    assert expected <= out.keys()
    assert all(type(v) is float and np.isfinite(v) for v in out.values())
    json.dumps(out)
    assert out["memorisation_ratio"] == 0.0  # the samples are training images


def test_evaluate_vectors_skips_image_and_dataset_metrics():
    rng = np.random.default_rng(0)
    out = evaluate(rng.standard_normal((100, 6)), rng.standard_normal((120, 6)))
    assert set(out) == {"pca_fd", "mmd_rbf", "sliced_wasserstein"}


METRICS = [pca_fd, mmd_rbf, sliced_wasserstein, spectrum_error, fd_from_features, classifier_fd, evaluate]


@pytest.mark.parametrize("metric", METRICS, ids=lambda f: f.__name__)
def test_bad_input_raises(metric):
    good = np.random.default_rng(0).uniform(-1, 1, size=(10, 1, 8, 8))
    with pytest.raises(DifflabError, match="shape"):
        metric(good, good[:, :, :4])
    with pytest.raises(DifflabError, match="samples"):
        metric(good[:0], good)
    bad = good.copy()
    bad[3, 0, 2, 2] = np.nan
    with pytest.raises(DifflabError, match="NaN"):
        metric(good, bad)
