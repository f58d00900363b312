"""Heun's two correctors and EDM's stochastic churn, on the exact Gaussian oracle.

The exponential corrector (default) and EDM's trapezoid in ν are both second order; at
few big steps from a large ν_T the EDM form amplifies the predictor's error and the
exponential one stays bounded. With churn the sampler still reproduces the Gaussian.
"""

import functools
import math

import pytest
import torch

from difflab.errors import DifflabError
from difflab.process.noise import PerSampleNoise
from difflab.sampling import SAMPLERS, uniform, uniform_logsnr
from difflab.sampling.heun import churn_time
from difflab.sampling.moments import sampler_output_moments

from .gaussian_cases import gaussian_process, moment_errors
from .test_convergence_order import STEPS, _slope

heun = SAMPLERS["heun"]


@pytest.mark.parametrize("form", ["exponential", "edm"])
def test_both_forms_are_second_order(form):
    process, oracle = gaussian_process("dct", "soft", "data")
    x_T = process.prior_sample(16, noise=torch.Generator().manual_seed(0), dtype=torch.float64)
    run = functools.partial(heun, oracle, process, x_T, heun_form=form)
    reference = run(uniform_logsnr(process, 2048))
    errors = [float((run(uniform_logsnr(process, n)) - reference).pow(2).mean().sqrt()) for n in STEPS]
    assert math.isclose(_slope(STEPS, errors), 2.0, abs_tol=0.25), errors


def test_exponential_form_is_closer_at_few_uniform_steps():
    """2-4 uniform-in-t steps from t = 1 (ν_T ≈ 100s): the exponential form's error is far below EDM's."""
    process, oracle = gaussian_process("pixel", "cosine", "white")
    x_T = process.prior_sample(64, noise=torch.Generator().manual_seed(1), dtype=torch.float64)
    reference = heun(oracle, process, x_T, uniform_logsnr(process, 1024))
    for n in (2, 3, 4):
        err = {
            form: float((heun(oracle, process, x_T, uniform(n), heun_form=form) - reference).pow(2).mean().sqrt())
            for form in ("exponential", "edm")
        }
        assert err["exponential"] < 0.5 * err["edm"], (n, err)
        assert err["exponential"] < 1.0, (n, err)


@pytest.mark.parametrize("combo", [("pixel", "cosine", "white"), ("haar", "soft", "data")], ids="-".join)
def test_churn_keeps_the_gaussian(combo):
    """Exact output moments with S_churn = 10 from the exact marginal at t = 1: the error falls with n.

    Measured (pixel/cosine): 1.6% at 64 steps, 0.46% at 128 (the ODE sampler: 0.34%, 0.13%).
    """
    process, oracle = gaussian_process(*combo)
    errors = []
    for n in (64, 128):
        mean_err, cov_err = moment_errors(
            *sampler_output_moments(
                heun, oracle, process, uniform(n), noise_draws=n, start=oracle.white_marginal(1.0), s_churn=10.0
            )
        )
        assert mean_err < 1e-6
        errors.append(cov_err)
    assert errors[1] < 0.006 and errors[0] / errors[1] > 2.5, errors


def test_churn_time_and_window():
    process, oracle = gaussian_process("pixel", "cosine", "white")
    a, s = process.alpha_sigma(torch.tensor(0.4, dtype=torch.float64))
    t_hat = churn_time(process, 0.4, 0.2, 1.0)
    a2, s2 = process.alpha_sigma(torch.tensor(t_hat, dtype=torch.float64))
    assert float((s2 / a2)[0] / (s / a)[0]) == pytest.approx(1.2, rel=1e-9)
    assert churn_time(process, 0.99, 10.0, 1.0) == 1.0
    x_T = process.prior_sample(4, PerSampleNoise(range(4)), dtype=torch.float64)
    plain = heun(oracle, process, x_T, uniform(8))
    # A window no ν reaches: no churn, bit-identical to the ODE sampler; with churn the output moves.
    far = {"s_tmin": 1e6, "s_tmax": 1e7}
    outside = heun(oracle, process, x_T, uniform(8), noise=PerSampleNoise(range(4)), s_churn=5.0, **far)
    assert torch.equal(plain, outside)
    churned = heun(oracle, process, x_T, uniform(8), noise=PerSampleNoise(range(4)), s_churn=5.0)
    assert not torch.allclose(plain, churned)


def test_bad_options():
    process, oracle = gaussian_process("pixel", "cosine", "white")
    x_T = process.prior_sample(2, PerSampleNoise([0, 1]), dtype=torch.float64)
    with pytest.raises(DifflabError, match="exponential, edm"):
        heun(oracle, process, x_T, uniform(4), heun_form="trapezoid")
    with pytest.raises(DifflabError, match="s_churn >= 0"):
        heun(oracle, process, x_T, uniform(4), s_churn=-1.0)
