import numpy as np
import pytest

from difflab.errors import DifflabError
from difflab.metrics import memorisation


def _gaussian(n, seed):
    return np.random.default_rng(seed).standard_normal((n, 1, 4, 4))


def test_copies_of_train_have_ratio_zero():
    train, test = _gaussian(500, 0), _gaussian(200, 1)
    out = memorisation(train[:100], train, test)
    assert out["ratio"] == pytest.approx(0.0, abs=1e-6)
    assert out["frac_closer_than_baseline_p01"] == 1.0
    assert out["baseline_median"] > 0 and out["baseline_p01"] <= out["baseline_median"]


def test_held_out_data_has_ratio_near_one():
    train, test, fresh = _gaussian(1000, 0), _gaussian(300, 1), _gaussian(300, 2)
    out = memorisation(fresh, train, test)
    assert out["ratio"] == pytest.approx(1.0, abs=0.1)
    assert out["frac_closer_than_baseline_p01"] < 0.05


def test_memorisation_rejects_bad_input():
    train = _gaussian(50, 0)
    with pytest.raises(DifflabError, match="per-sample shape"):
        memorisation(train, train, np.zeros((5, 16)))
    with pytest.raises(DifflabError, match="duplicates"):
        memorisation(train, train, train)
