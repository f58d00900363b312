"""``evaluate`` computes every metric on its own: one refusal leaves the others intact."""

import math

import numpy as np
import pytest

from difflab.metrics import evaluate


def test_a_refused_metric_is_nan_with_its_reason_and_the_rest_are_computed():
    rng = np.random.default_rng(0)
    train = rng.standard_normal((40, 3))
    reference = train[:30].copy()  # the test split duplicates training examples: memorisation refuses
    samples = rng.standard_normal((50, 3))
    refused: dict[str, str] = {}
    with pytest.warns(UserWarning, match="memorisation"):
        out = evaluate(samples, reference, train=train, refused=refused)
    assert set(refused) == {k for k in out if k.startswith("memorisation_")} and len(refused) == 6
    assert all("duplicates the training set" in r for r in refused.values())
    assert all(math.isnan(out[k]) for k in refused)
    alone = evaluate(samples, reference)  # the same metrics without the training set
    for key in ("pca_fd", "mmd_rbf", "sliced_wasserstein"):
        assert out[key] == pytest.approx(alone[key]) and math.isfinite(out[key])
