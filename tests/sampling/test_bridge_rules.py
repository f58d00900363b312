"""The bridge's two noise rules (DDIM η, distributional churn) and DDPM's variances, in closed form.

η is checked against diffusers' ``DDIMScheduler`` on the same ᾱ table (its ``_get_variance`` and a
whole ``step``), η = 1 against the DDPM posterior q(x_s | x_t, x₀) and the ``ddpm`` sampler, and
``fixed_large`` against ``DDPMScheduler(variance_type="fixed_large", clip_sample=False)``.
"""

import pytest
import torch

from difflab.errors import DifflabError
from difflab.process.noise import PerSampleNoise
from difflab.sampling import SAMPLERS, bridge_step, uniform
from difflab.sampling.bridge import bridge_k

from .gaussian_cases import gaussian_process

diffusers = pytest.importorskip("diffusers")


def _coeffs(alpha_bar: float):
    a = torch.tensor([alpha_bar], dtype=torch.float64)
    return a.sqrt(), (1 - a).sqrt()


def _step_moments(a_t, s_t, a_s, s_s, level, **kw):
    """(coefficient of x_t, of x̂₀, noise std) of one bridge step, read off by linearity."""
    one, zero = torch.ones(1, 1, dtype=torch.float64), torch.zeros(1, 1, dtype=torch.float64)
    c_t = bridge_step(one, zero, a_t, s_t, a_s, s_s, level, zero, **kw)
    c_0 = bridge_step(zero, one, a_t, s_t, a_s, s_s, level, zero, **kw)
    std = bridge_step(zero, zero, a_t, s_t, a_s, s_s, level, one, **kw)
    return float(c_t), float(c_0), float(std)


@pytest.mark.parametrize("eta", [0.0, 0.3, 0.7, 1.0])
def test_ddim_eta_matches_diffusers_variance_and_step(eta):
    sched = diffusers.DDIMScheduler(num_train_timesteps=1000, beta_schedule="linear", clip_sample=False)
    sched.set_timesteps(20)
    ab = sched.alphas_cumprod.double()
    g = torch.Generator().manual_seed(0)
    for t in (950, 500, 100):
        prev = t - 1000 // 20
        a_t, s_t = _coeffs(float(ab[t]))
        a_s, s_s = _coeffs(float(ab[prev]))
        _, _, std = _step_moments(a_t, s_t, a_s, s_s, eta, rule="eta")
        want = eta * float(sched._get_variance(torch.tensor(t), torch.tensor(prev))) ** 0.5
        assert std == pytest.approx(want, rel=1e-6, abs=1e-9)
        # A whole step from the same x_t, ε̂ and variance noise: diffusers' DDIM vs the bridge.
        x_t = torch.randn(4, 8, generator=g, dtype=torch.float64)
        eps_hat = torch.randn(4, 8, generator=g, dtype=torch.float64)
        z = torch.randn(4, 8, generator=g, dtype=torch.float64)
        theirs = sched.step(eps_hat, t, x_t, eta=eta, variance_noise=z).prev_sample.double()
        x0_hat = (x_t - s_t * eps_hat) / a_t
        ours = bridge_step(x_t, x0_hat, a_t, s_t, a_s, s_s, eta, z, rule="eta")
        assert torch.allclose(ours, theirs, atol=1e-5), float((ours - theirs).abs().max())


def test_eta_one_is_the_ddpm_posterior_and_churn_differs_in_between():
    a_t, s_t = _coeffs(0.3)
    a_s, s_s = _coeffs(0.6)
    # Posterior q(x_s | x_t, x_0) of the VP process in closed form (Ho et al. eq. 6-7).
    beta = 1 - 0.3 / 0.6
    mean_t = (1 - beta) ** 0.5 * (1 - 0.6) / (1 - 0.3)
    mean_0 = 0.6**0.5 * beta / (1 - 0.3)
    var = (1 - 0.6) / (1 - 0.3) * beta
    for rule in ("eta", "churn"):
        c_t, c_0, std = _step_moments(a_t, s_t, a_s, s_s, 1.0, rule=rule)
        assert (c_t, c_0, std**2) == pytest.approx((mean_t, mean_0, var), rel=1e-12)
    r11 = (a_t / a_s) * (s_s / s_t)
    for level in (0.25, 0.5, 0.9):  # churn injects more noise than η at the same value
        assert float(bridge_k(r11, level, "churn")) < float(bridge_k(r11, level, "eta")) < 1.0


def test_ddim_eta_one_equals_ddpm_sampler():
    process, oracle = gaussian_process("dct", "soft", "white")
    x_T = process.prior_sample(6, PerSampleNoise(range(6)), dtype=torch.float64)
    times = uniform(12)
    a = SAMPLERS["ddim"](oracle, process, x_T, times, noise=PerSampleNoise(range(10, 16)), eta=1.0)
    b = SAMPLERS["ddpm"](oracle, process, x_T, times, noise=PerSampleNoise(range(10, 16)))
    assert torch.allclose(a, b, atol=1e-12)


def test_fixed_large_matches_diffusers_ddpm():
    sched = diffusers.DDPMScheduler(
        num_train_timesteps=1000, beta_schedule="linear", variance_type="fixed_large", clip_sample=False
    )
    sched.set_timesteps(50)
    ab = sched.alphas_cumprod.double()
    for t in (980, 500, 40):
        prev = t - 20
        a_t, s_t = _coeffs(float(ab[t]))
        a_s, s_s = _coeffs(float(ab[prev]))
        c_t, c_0, std = _step_moments(a_t, s_t, a_s, s_s, 1.0, rule="eta", variance="fixed_large")
        post = _step_moments(a_t, s_t, a_s, s_s, 1.0, rule="eta")
        assert (c_t, c_0) == pytest.approx(post[:2], rel=1e-12)  # same posterior mean
        assert std**2 == pytest.approx(float(sched._get_variance(t, prev)), rel=1e-5)
        assert std > post[2]


def test_ddpm_variance_option_is_checked():
    process, oracle = gaussian_process("pixel", "cosine", "white")
    x_T = process.prior_sample(2, PerSampleNoise([0, 1]), dtype=torch.float64)
    with pytest.raises(DifflabError, match="fixed_small, fixed_large"):
        SAMPLERS["ddpm"](oracle, process, x_T, uniform(4), variance="large")
    with pytest.raises(DifflabError, match="DDIM η"):
        SAMPLERS["ddim"](oracle, process, x_T, uniform(4), eta=1.5)
