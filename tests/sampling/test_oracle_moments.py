"""Every sampler reproduces a Gaussian's mean and covariance under its exact denoiser.

Moments come from :func:`sampler_output_moments` (linear response: exact, no
Monte-Carlo noise), starting from the exact marginal at t = 1 so the numbers
measure the sampler, not the prior mismatch α(1) ≠ 0. One Monte-Carlo test
(20k samples) checks the probe method against plain sampling.
"""

import pytest
import torch

from difflab.sampling import SAMPLERS, uniform
from difflab.sampling.moments import sampler_output_moments

from .gaussian_cases import PRIORS, PROCESS_COMBOS, gaussian_process, gaussian_target, moment_errors

STEPS = 256
# Stochastic samplers need one probe row per noise draw and component
# (batch 1 + D + n·D), so their matrix runs at 128 steps to keep the suite fast;
# test_stochastic_samplers_converge_first_order shows the error halving with n.
STOCHASTIC_STEPS = 128
DETERMINISTIC = {"ddim", "heun", "dpmpp2m"}
# Relative Frobenius covariance error allowed (exact moments, so no sampling
# noise). Measured worst cells at 256 steps: ddpm 2.6%, ddim 1.3%, euler 0.6%,
# heun 0.06%, dpmpp2m 0.05%. First-order samplers need more steps under the
# sequential schedule (softness 2: every column is active for half the time);
# measured there at 256 steps: ddpm 6.8%, ddim 3.4%, euler 2.6%.
COV_TOL = {"ddpm": 0.06, "ddim": 0.02, "euler": 0.02, "heun": 0.002, "dpmpp2m": 0.002}
COV_TOL_SEQUENTIAL = {"ddpm": 0.15, "ddim": 0.04, "euler": 0.06, "heun": 0.002, "dpmpp2m": 0.002}


def _exact_moments(sampler, basis, schedule, prior, steps):
    process, oracle = gaussian_process(basis, schedule, prior)
    return sampler_output_moments(
        SAMPLERS[sampler],
        oracle,
        process,
        uniform(steps),
        noise_draws=0 if sampler in DETERMINISTIC else None,
        start=oracle.white_marginal(1.0),
    )


def _cases():
    for sampler in COV_TOL:
        for basis, schedule, _ in PROCESS_COMBOS:
            for prior in PRIORS:
                yield pytest.param(sampler, basis, schedule, prior, id=f"{sampler}-{basis}-{schedule}-{prior}")


@pytest.mark.parametrize("sampler,basis,schedule,prior", list(_cases()))
def test_sampler_reproduces_gaussian_moments(sampler, basis, schedule, prior):
    steps = STEPS if sampler in DETERMINISTIC else STOCHASTIC_STEPS
    mean_err, cov_err = moment_errors(*_exact_moments(sampler, basis, schedule, prior, steps))
    tol = (COV_TOL_SEQUENTIAL if schedule == "sequential" else COV_TOL)[sampler]
    name = f"{sampler}/{basis}/{schedule}/{prior} at {steps} steps"
    assert cov_err <= tol, f"{name}: covariance error {cov_err:.2e} > {tol}"
    assert mean_err <= max(tol, 0.005), f"{name}: mean error {mean_err:.2e}"


@pytest.mark.parametrize("sampler", ["ddpm", "euler"])
def test_stochastic_samplers_converge_first_order(sampler):
    errors = [moment_errors(*_exact_moments(sampler, "dct", "soft", "white", n))[1] for n in (32, 64)]
    assert 1.6 <= errors[0] / errors[1] <= 2.5, f"{sampler}: errors {errors} at 32 and 64 steps"


@pytest.mark.parametrize("sampler", ["ddpm"])
def test_monte_carlo_agrees_with_exact_moments(sampler):
    """20k plain samples from the N(0, I) prior: within 3% of the target and near the exact moments."""
    process, oracle = gaussian_process("pixel", "cosine", "white")
    times = uniform(STEPS)
    gen = torch.Generator().manual_seed(3)
    x_T = process.prior_sample(20_000, noise=gen, dtype=torch.float64)
    x = SAMPLERS[sampler](oracle, process, x_T, times, noise=gen).reshape(20_000, -1)
    mc_mean, mc_cov = x.mean(0), torch.cov(x.T)
    _, cov_err = moment_errors(mc_mean, mc_cov)
    assert cov_err <= 0.03
    exact_mean, exact_cov = sampler_output_moments(
        SAMPLERS[sampler], oracle, process, times, noise_draws=0 if sampler in DETERMINISTIC else None
    )
    _, cov = gaussian_target()
    # Monte-Carlo error of a 20k-sample covariance with this spectrum is about 1.5%.
    assert (mc_cov - exact_cov).norm() / cov.norm() <= 0.04
    assert (mc_mean - exact_mean).abs().max() <= 4 * cov.diagonal().max().sqrt() / 20_000**0.5


def test_exact_moments_reject_a_nonlinear_denoiser():
    process, oracle = gaussian_process("pixel", "cosine", "white")
    with pytest.raises(Exception, match="affine"):
        sampler_output_moments(SAMPLERS["ddim"], lambda x, t: torch.tanh(x), process, uniform(4), noise_draws=0)
