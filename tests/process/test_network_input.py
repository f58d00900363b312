"""``process.network_input: unit`` (every component reaches the network with unit variance) and
``process.gaussian_residual`` (a zero network is the exact denoiser of independent Gaussians).

Oracle: Gaussian data on (1, 4, 4) with variances spanning three decades. At any time of a soft schedule,
the whitened component i of x_t has variance α_i² Σ_i + σ_i² exactly (Σ_i its whitened data variance), so
the scaled input has variance 1 in every component, basis and prior; the default feeds x_t unchanged.
"""

import functools

import pytest
import torch

from difflab.errors import DifflabError
from difflab.models.denoiser import Denoiser
from difflab.models.run import load_run
from difflab.pipeline import train_run
from difflab.process.factory import build_process, empty_process_like
from difflab.process.oracles import GaussianOracle
from tests.helpers import tiny_config

SHAPE, D = (1, 4, 4), 16
SOFT = {"schedule": "soft", "softness": 0.1, "ordering": "variance", "soft_form": "gud_code", "center": True}


@functools.cache
def _data(n: int = 8192) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    q, _ = torch.linalg.qr(torch.randn(D, D, generator=g, dtype=torch.float64))
    std = torch.logspace(0, -1.5, D, dtype=torch.float64)  # variances over three decades
    z = torch.randn(n, D, generator=g, dtype=torch.float64) * std
    return (0.3 + z @ q.T).reshape(n, *SHAPE)


def _process(basis="pixel", prior="white", **opts):
    return build_process(SHAPE, basis=basis, prior=prior, data=_data(), **{**SOFT, **opts})


def test_the_default_feeds_x_t_unchanged_and_keeps_no_buffer():
    p = _process()
    x = torch.randn(3, *SHAPE)
    assert p.network_input(x, torch.full((3,), 0.5)) is x
    assert "data_var" not in p.state_dict()


@pytest.mark.parametrize("basis", ["pixel", "dct", "pca"])
@pytest.mark.parametrize("prior", ["white", "data"])
def test_unit_input_is_the_closed_form_and_has_unit_variance(basis, prior):
    p = _process(basis, prior, network_input="unit")
    w0 = p.to_white(_data())
    var = w0.var(0, correction=0)  # Σ_i: centred, whitened
    torch.testing.assert_close(p.data_var, var, rtol=1e-9, atol=0)
    g = torch.Generator().manual_seed(1)
    for t in (0.1, 0.5, 0.8, 0.95):
        tt = torch.full((w0.shape[0],), t, dtype=torch.float64)
        alpha, sigma = p.alpha_sigma(tt)
        w_t = alpha * w0 + sigma * torch.randn(w0.shape, generator=g, dtype=torch.float64)
        x_in = p.network_input(p.from_white(w_t), tt)
        expected = p.white_noise_to_data(w_t / (alpha**2 * var + sigma**2).sqrt())
        torch.testing.assert_close(x_in, expected, rtol=1e-9, atol=1e-9)
        u = p.data_noise_to_white(x_in)  # the input's components
        assert (u.var(0, correction=0) - 1).abs().max() < 0.08  # n = 8192: Monte-Carlo error ≈ 0.016 per comp.


class _Capture(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.seen = None

    def forward(self, x, t, *, labels=None, z=None, extra=None):
        self.seen = x
        return torch.zeros_like(x)


def test_the_denoiser_feeds_the_network_the_scaled_input():
    p = _process("dct", network_input="unit")
    net = _Capture()
    d = Denoiser(net, p, prediction="v")
    x_t = torch.randn(4, *SHAPE, dtype=torch.float64)
    t = torch.tensor([0.2, 0.4, 0.6, 0.9], dtype=torch.float64)
    d(x_t, t)
    torch.testing.assert_close(net.seen, p.network_input(x_t, t))
    assert not torch.allclose(net.seen, x_t)


def test_checkpoint_round_trip_and_no_data_refused():
    p = _process("pca", network_input="unit")
    q = empty_process_like(p)
    q.load_state_dict(p.state_dict())
    x, t = torch.randn(2, *SHAPE, dtype=torch.float64), torch.tensor([0.3, 0.7], dtype=torch.float64)
    torch.testing.assert_close(q.network_input(x, t), p.network_input(x, t))
    with pytest.raises(DifflabError, match="network_input"):
        build_process(SHAPE, schedule="cosine", network_input="unit")


def test_a_trained_run_loads_with_the_scaled_input(tmp_path):
    cfg = tiny_config("train.steps=2", "train.checkpoint_every=2", "process.network_input=unit")
    train_run(cfg, tmp_path / "run", progress=False)
    run = load_run(tmp_path / "run")
    assert run.denoiser.process.data_var is not None and bool((run.denoiser.process.data_var > 0).all())


# -- process.gaussian_residual ----------------------------------------------------------------------------


@pytest.mark.parametrize("prediction", ["eps", "v", "x0"])
@pytest.mark.parametrize("prior", ["white", "data"])
@pytest.mark.parametrize("network_input", ["data", "unit"])
def test_a_zero_network_is_the_exact_independent_gaussian_denoiser(prediction, prior, network_input):
    # Oracle: pixel basis; the Gaussian with the data's mean and the *diagonal* of its covariance has the
    # exact denoiser GaussianOracle; under the residual a network that outputs 0 must be that denoiser.
    p = _process("pixel", prior, gaussian_residual=True, network_input=network_input)
    x = _data().flatten(1)
    oracle = GaussianOracle(p, x.mean(0), torch.diag(x.var(0, correction=0)))
    d = Denoiser(_Capture(), p, prediction=prediction)
    g = torch.Generator().manual_seed(2)
    x_t = p.from_white(torch.randn(64, D, generator=g, dtype=torch.float64))
    for t in (0.02, 0.3, 0.6, 0.9, 0.99):  # at softness 0.1 these span clean to fully noised components
        tt = torch.full((64,), t, dtype=torch.float64)
        torch.testing.assert_close(d(x_t, tt), oracle(x_t, t), rtol=1e-7, atol=1e-9)


def test_without_the_residual_a_zero_network_is_not_that_denoiser_and_eps_gud_refuses_it():
    p = _process("pixel")
    x = _data().flatten(1)
    oracle = GaussianOracle(p, x.mean(0), torch.diag(x.var(0, correction=0)))
    x_t = p.from_white(torch.randn(8, D, dtype=torch.float64))
    tt = torch.full((8,), 0.9, dtype=torch.float64)
    assert not torch.allclose(Denoiser(_Capture(), p, prediction="v")(x_t, tt), oracle(x_t, 0.9), atol=1e-3)
    with pytest.raises(DifflabError, match="eps_gud"):
        Denoiser(_Capture(), _process("pixel", gaussian_residual=True), prediction="eps_gud")
