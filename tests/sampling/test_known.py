"""Conditioning on known components (sampling/known.py) with every registered sampler.

Exact oracle: when the known and unknown components are independent, replacement is exact, so every
sampler must reproduce the exact conditional law (the target's marginal of the unknown part, the
observation on the known part) within its own discretisation error, for a pixel mask, a Haar coarse
band and the leading PCA components, under the white and the data prior. When they are correlated,
replacement is an approximation (docs/conditional.md gives the measured gap); there we check that
conditioning moves the law towards the conditional and that RePaint resampling narrows the gap.
"""

import pytest
import torch

from difflab.errors import DifflabError
from difflab.process.bases.pixel import PixelBasis
from difflab.process.factory import build_process
from difflab.process.noise import PerSampleNoise
from difflab.process.oracles import GaussianOracle
from difflab.sampling import SAMPLERS, uniform
from difflab.sampling.known import Known, coarse_known
from difflab.sampling.moments import sampler_output_moments

from .conditional_cases import MASKS, case, conditional_errors, exact_conditional, known_for, target
from .gaussian_cases import SHAPE, gaussian_data, gaussian_process

STEPS = 64
# Relative Frobenius covariance error allowed at 64 steps (independent coupling); measured worst cells
# over masks x priors (docs/conditional.md): ddim 6.8%, heun 1.1%, dpmpp2m 0.43%, ddpm 13.9%, euler 2.4%
# (the unconditional oracle tests see the same first-order errors at this step count). Mean errors are 0
# for the bridge samplers and ODE solvers, 0.7% at most for Euler-Maruyama. The distributional sampler
# draws generator noise shaped like the data, which the probe method cannot serve; it is covered below.
COV_TOL = {"ddim": 0.09, "heun": 0.02, "dpmpp2m": 0.008, "ddpm": 0.18, "euler": 0.035}
STOCHASTIC = ("ddpm", "euler")


@pytest.mark.parametrize(
    "sampler", [pytest.param(s, marks=pytest.mark.slow) if s in STOCHASTIC else s for s in sorted(COV_TOL)]
)
@pytest.mark.parametrize("mask", MASKS)
@pytest.mark.parametrize("prior", ["white", "data"])
def test_independent_known_set_gives_the_exact_conditional(sampler, mask, prior):
    mean_err, cov_err = conditional_errors(sampler, mask, prior, "independent", STEPS)
    assert mean_err <= 0.01, f"{sampler}/{mask}/{prior}: mean error {mean_err:.2e}"
    assert cov_err <= COV_TOL[sampler], f"{sampler}/{mask}/{prior}: covariance error {cov_err:.3f}"


def _unconditional_error(mask, prior, coupling):
    """Covariance error of the *unconditional* target against the conditional (what no conditioning gives)."""
    mean, cov = target(mask, prior, coupling)
    em, ec = exact_conditional(mask, prior, coupling)
    return float((cov - ec).norm() / ec.norm())


@pytest.mark.parametrize("mask", MASKS)
def test_correlated_known_set_moves_towards_the_conditional(mask):
    _, cov_err = conditional_errors("dpmpp2m", mask, "white", "correlated", 32)
    assert cov_err < 0.5 * _unconditional_error(mask, "white", "correlated")


def test_resampling_narrows_the_replacement_gap():
    plain = conditional_errors("ddpm", "pixel", "white", "correlated", 16, 0)
    harmonised = conditional_errors("ddpm", "pixel", "white", "correlated", 16, 2)
    assert harmonised[0] < 0.6 * plain[0], f"mean errors {plain[0]:.3f} -> {harmonised[0]:.3f}"


@pytest.mark.parametrize("sampler", list(SAMPLERS))
def test_empty_mask_is_plain_sampling_bit_for_bit(sampler):
    process, oracle = gaussian_process("pixel", "cosine", "white")
    x_T = process.prior_sample(4, PerSampleNoise([1, 2, 3, 4]))
    known = Known(torch.zeros(SHAPE), torch.zeros(SHAPE))
    runs = [
        SAMPLERS[sampler](oracle, process, x_T, uniform(8), noise=PerSampleNoise([5, 6, 7, 8]), cond=c)
        for c in ({}, {"known": known})
    ]
    assert torch.equal(runs[0], runs[1])


@pytest.mark.parametrize("sampler", list(SAMPLERS))
@pytest.mark.parametrize("mask", MASKS)
def test_known_components_equal_the_observation_at_t0(sampler, mask):
    process, known_idx, coords = case(mask, "data")
    oracle = GaussianOracle(process, *target(mask, "data", "correlated"))
    known = known_for(mask, "data", "correlated", resample=1)
    x_T = process.prior_sample(3, PerSampleNoise([1, 2, 3]), dtype=torch.float64)
    out = SAMPLERS[sampler](oracle, process, x_T, uniform(6), noise=PerSampleNoise([4, 5, 6]), cond={"known": known})
    y = coords @ known.values.reshape(-1).double()
    got = out.reshape(3, -1).double() @ coords.T
    torch.testing.assert_close(got[:, known_idx], y[known_idx].expand(3, -1), atol=1e-9, rtol=0)
    assert not torch.allclose(got[0, ~known_idx], got[1, ~known_idx])  # the rest is sampled, per sample


def test_samples_are_reproducible_per_sample():
    process, oracle = gaussian_process("pixel", "cosine", "white")
    known = known_for("pixel", "white", "correlated", resample=1)
    x_T = process.prior_sample(3, PerSampleNoise([1, 2, 3]))
    a = SAMPLERS["ddpm"](oracle, process, x_T, uniform(6), noise=PerSampleNoise([4, 5, 6]), cond={"known": known})
    b = SAMPLERS["ddpm"](oracle, process, x_T[1:2], uniform(6), noise=PerSampleNoise([5]), cond={"known": known})
    torch.testing.assert_close(a[1:2], b, atol=1e-6, rtol=0)


def test_pixel_mask_on_a_dct_run_works_when_the_process_is_isotropic():
    """Scalar schedule + white prior: a pixel mask is valid in any basis, and equals the pixel-basis result."""
    pix, _ = gaussian_process("pixel", "cosine", "white")
    dct, _ = gaussian_process("dct", "cosine", "white")
    mean, cov = target("pixel", "white", "independent")
    known = known_for("pixel", "white", "independent")
    outs = [
        sampler_output_moments(
            SAMPLERS["dpmpp2m"], GaussianOracle(p, mean, cov), p, uniform(16), noise_draws=16, cond={"known": known}
        )
        for p in (pix, dct)
    ]
    torch.testing.assert_close(outs[0][0], outs[1][0], atol=1e-8, rtol=0)
    torch.testing.assert_close(outs[0][1], outs[1][1], atol=1e-8, rtol=0)


def test_pixel_mask_on_a_component_wise_process_is_refused():
    process, oracle = gaussian_process("dct", "cosine", "data")
    known = known_for("pixel", "white", "correlated")
    x_T = process.prior_sample(2)
    with pytest.raises(DifflabError, match="its own components"):
        SAMPLERS["ddim"](oracle, process, x_T, uniform(4), cond={"known": known})


def test_bad_masks_and_shapes_are_refused():
    process, oracle = gaussian_process("pixel", "cosine", "white")
    with pytest.raises(DifflabError, match="only 0"):
        Known(torch.zeros(SHAPE), torch.full(SHAPE, 0.5))
    with pytest.raises(DifflabError, match="broadcast"):
        Known(torch.zeros(SHAPE), torch.ones(3, 5)).batched(process, 2)
    with pytest.raises(DifflabError, match="known values"):
        Known(torch.zeros(2, 4, 4), torch.ones(SHAPE)).batched(process, 2)
    with pytest.raises(DifflabError, match="resample"):
        Known(torch.zeros(SHAPE), torch.ones(SHAPE), resample=-1)


def test_coarse_known_fixes_block_means_on_a_pixel_run_and_refuses_ineligible_runs():
    process, oracle = gaussian_process("pixel", "cosine", "white")
    low = torch.randn(2, 1, 2, 2, generator=torch.Generator().manual_seed(0))
    known = coarse_known(process, low)
    out = SAMPLERS["ddim"](oracle, process, process.prior_sample(2), uniform(8), cond={"known": known})
    torch.testing.assert_close(out.reshape(2, 1, 2, 2, 2, 2).mean((3, 5)), low, atol=1e-5, rtol=0)
    data_prior = build_process(SHAPE, basis="pixel", prior="data", schedule="cosine", data=gaussian_data())
    with pytest.raises(DifflabError, match="upsampling needs"):
        coarse_known(data_prior, low)


def test_a_pixel_basis_object_on_an_isotropic_dct_run_equals_the_default_pixel_mask():
    process, oracle = gaussian_process("dct", "cosine", "white")
    base = known_for("pixel", "white", "correlated")
    explicit = Known(base.values, base.mask, basis=PixelBasis(SHAPE))
    x_T = process.prior_sample(2, PerSampleNoise([1, 2]))
    a, b = (
        SAMPLERS["ddpm"](oracle, process, x_T, uniform(6), noise=PerSampleNoise([3, 4]), cond={"known": k})
        for k in (base, explicit)
    )
    torch.testing.assert_close(a, b, atol=1e-6, rtol=0)


@pytest.mark.parametrize("sampler", list(SAMPLERS))
def test_known_composes_with_cond_and_never_reaches_the_denoiser(sampler):
    """Other conditioning (labels, codes, ξ) still reaches the denoiser; the constraint itself does not."""
    process, oracle = gaussian_process("pixel", "cosine", "white")
    seen = []

    def denoiser(x_t, t, **cond):
        seen.append(sorted(cond))
        assert torch.equal(cond["labels"], torch.tensor([3, 7]))
        return oracle(x_t, t)

    known = known_for("pixel", "white", "correlated")
    cond = {"labels": torch.tensor([3, 7]), "known": known}
    SAMPLERS[sampler](denoiser, process, process.prior_sample(2), uniform(4), cond=cond)
    assert seen and all("known" not in keys and "labels" in keys for keys in seen)
    assert "known" in cond  # the caller's mapping is not modified
