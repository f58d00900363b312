"""Runs whose denoiser does not define a PF-ODE likelihood are refused with one clear line."""

import pytest

from difflab.config.schema import RunConfig
from difflab.errors import DifflabError
from difflab.pipeline.evaluate import check_likelihood_supported


def test_regression_runs_are_supported():
    check_likelihood_supported(RunConfig())


@pytest.mark.parametrize(
    ("section", "field", "value", "needle"),
    [("method", "kind", "distributional", "regression"), ("encoder", "kind", "binary", "coded")],
)
def test_generators_and_coded_runs_are_refused(section, field, value, needle):
    cfg = RunConfig()
    setattr(getattr(cfg, section), field, value)
    with pytest.raises(DifflabError, match=needle):
        check_likelihood_supported(cfg)
