"""``method.loss_reduction``: the per-example error summed or averaged over components (issue 19)."""

import json

import pytest
import torch

from difflab.config.loader import load_config
from difflab.config.schema import MethodConfig, RunConfig
from difflab.errors import DifflabError
from difflab.models.denoiser import Denoiser
from difflab.objectives.regression import AUTO_REDUCTION, loss_reduction, regression_loss
from difflab.pipeline import train_run
from difflab.pipeline.run import LOG_NAME
from difflab.process.factory import build_process
from tests.helpers import tiny_config
from tests.objectives.test_eps_gud import Fixed
from tests.sampling.gaussian_cases import SHAPE, gaussian_data


def _draws(p):
    g = torch.Generator().manual_seed(0)
    x0 = gaussian_data()[:8].double()
    t = torch.rand(8, generator=g, dtype=torch.float64)
    eps = torch.randn(8, p.dim, generator=g, dtype=torch.float64)
    return x0, t, eps


@pytest.mark.parametrize("prediction", ["eps", "x0", "v"])
def test_sum_is_dim_times_mean_and_mean_is_the_mse(prediction):
    p = build_process(SHAPE, basis="dct", prior="white", schedule="cosine")
    den = Denoiser(Fixed(), p, prediction=prediction)  # zero network: the error is the whole target
    x0, t, eps = _draws(p)
    w0 = p.to_white(x0)
    a, s = p.alpha_sigma(t)
    target = {"eps": eps, "x0": w0, "v": a * eps - s * w0}[prediction]
    mean = regression_loss(den, x0, t, eps, reduction="mean").double()
    total = regression_loss(den, x0, t, eps, reduction="sum").double()
    assert torch.allclose(mean, (target**2).mean(1), rtol=1e-5)
    assert torch.allclose(total, p.dim * mean, rtol=1e-6)
    assert torch.equal(regression_loss(den, x0, t, eps), regression_loss(den, x0, t, eps, reduction=AUTO_REDUCTION))


def test_auto_keeps_gud_mean_for_eps_gud():
    assert loss_reduction("eps_gud") == "mean"
    assert loss_reduction("v") == AUTO_REDUCTION
    assert loss_reduction("eps_gud", "sum") == "sum"
    with pytest.raises(ValueError):
        loss_reduction("v", "max")


def test_only_regression_takes_a_reduction():
    assert MethodConfig(loss_reduction="mean").loss_reduction == "mean"
    with pytest.raises(DifflabError, match="loss_reduction applies to method.kind=regression"):
        load_config(RunConfig, {"method": {"kind": "distributional", "loss_reduction": "mean"}})


def _log(out):
    return [json.loads(line) for line in (out / LOG_NAME).read_text().splitlines()]


def test_the_training_log_says_how_often_clipping_acts(tmp_path):
    """sum: the gradient norm is ~D times the MSE's, so clip 1.0 acts on every step; a huge clip never acts."""
    for name, overrides, clipped in (
        ("sum", ["method.loss_reduction=sum"], 1.0),
        ("loose", ["method.loss_reduction=mean", "train.grad_clip=1e9"], 0.0),
    ):
        train_run(tiny_config(*overrides), tmp_path / name, progress=False)
        log = _log(tmp_path / name)
        assert all(r["clipped"] == clipped and r["grad_norm"] > 0 for r in log), (name, log)
    sum_norm = _log(tmp_path / "sum")[0]["grad_norm"]
    mean_norm = _log(tmp_path / "loose")[0]["grad_norm"]
    # the first window's gradients differ only by the factor D = 64 until the updates diverge
    assert 10 < sum_norm / mean_norm < 200


def test_no_clip_logs_no_clipped_fraction(tmp_path):
    train_run(tiny_config("train.grad_clip=0"), tmp_path / "r", progress=False)
    assert all("clipped" not in r and r["grad_norm"] > 0 for r in _log(tmp_path / "r"))
