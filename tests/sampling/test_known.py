"""Conditioning on known components (sampling/known.py) with every registered sampler.

Exact oracle: when the known and unknown components are independent, replacement is exact, so every
sampler must reproduce the exact conditional law (the target's marginal of the unknown part, the
observation on the known part) within its own discretisation error, for a pixel mask, a Haar coarse
band and the leading PCA components, under the white and the data prior. When they are correlated,
replacement is an approximation (docs/conditional.md gives the measured gap); there we check that
conditioning moves the law towards the conditional and that RePaint resampling narrows the gap.
"""

from dataclasses import replace

import pytest
import torch

from difflab.errors import DifflabError
from difflab.process.bases.pixel import PixelBasis
from difflab.process.factory import build_process
from difflab.process.noise import PerSampleNoise
from difflab.process.oracles import GaussianOracle
from difflab.sampling import SAMPLERS, uniform
from difflab.sampling.known import Constraint, Known, coarse_known
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


@pytest.mark.parametrize("method", ["replace", "moment"])
@pytest.mark.parametrize("sampler", list(SAMPLERS))
def test_empty_mask_is_plain_sampling_bit_for_bit(sampler, method):
    process, oracle = gaussian_process("pixel", "cosine", "white")
    x_T = process.prior_sample(4, PerSampleNoise([1, 2, 3, 4]))
    known = Known(torch.zeros(SHAPE), torch.zeros(SHAPE), method=method)
    runs = [
        SAMPLERS[sampler](oracle, process, x_T, uniform(8), noise=PerSampleNoise([5, 6, 7, 8]), cond=c)
        for c in ({}, {"known": known})
    ]
    assert torch.equal(runs[0], runs[1])


@pytest.mark.parametrize("method", ["replace", "moment"])
@pytest.mark.parametrize("sampler", list(SAMPLERS))
@pytest.mark.parametrize("mask", MASKS)
def test_known_components_equal_the_observation_at_t0(sampler, mask, method):
    process, known_idx, coords = case(mask, "data")
    oracle = GaussianOracle(process, *target(mask, "data", "correlated"))
    known = known_for(mask, "data", "correlated", resample=int(method == "replace"), method=method)
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


# --- method="moment": the denoiser's x̂₀ conditioned through its Tweedie covariance -------------------------------
# Exact for Gaussian data, so on the *correlated* target every sampler reproduces the exact conditional up to its
# own discretisation error. 16 steps keep the probe batches small (the cost grows with steps²); the tolerances are
# the measured worst cells over masks x priors (docs/conditional.md) plus ~25%. The mean is exact (round-off) for
# every sampler but Euler-Maruyama, whose mean carries its own first-order error; replace's errors on this target
# are 0.2-1.1 (docs/conditional.md), far outside these bounds.
MOMENT_STEPS = 16
# Measured worst cells at 16 steps: ddim 0.243, heun 0.138, dpmpp2m 0.102, ddpm 0.364, euler 0.068 (covariance);
# mean 5e-8 (the float32 observation) and 0.033 for euler.
MOMENT_COV_TOL = {"ddim": 0.3, "heun": 0.18, "dpmpp2m": 0.13, "ddpm": 0.45, "euler": 0.09}
MOMENT_MEAN_TOL = {"ddim": 1e-6, "heun": 1e-6, "dpmpp2m": 1e-6, "ddpm": 1e-6, "euler": 0.045}


@pytest.mark.parametrize(
    "sampler", [pytest.param(s, marks=pytest.mark.slow) if s != "dpmpp2m" else s for s in sorted(MOMENT_COV_TOL)]
)
@pytest.mark.parametrize("mask", MASKS)
@pytest.mark.parametrize("prior", ["white", "data"])
def test_moment_gives_the_exact_conditional_on_the_correlated_target(sampler, mask, prior):
    mean_err, cov_err = conditional_errors(sampler, mask, prior, "correlated", MOMENT_STEPS, method="moment")
    assert mean_err <= MOMENT_MEAN_TOL[sampler], f"{sampler}/{mask}/{prior}: mean error {mean_err:.2e}"
    assert cov_err <= MOMENT_COV_TOL[sampler], f"{sampler}/{mask}/{prior}: covariance error {cov_err:.3f}"


@pytest.mark.parametrize("sampler,order", [("ddim", 1), ("dpmpp2m", 2)])
def test_moment_error_vanishes_at_the_samplers_order_where_replace_stays_biased(sampler, order):
    """Halving the step size divides moment's error by ~2^order; replace's bias does not shrink (it grows)."""
    moment = [conditional_errors(sampler, "pixel", "white", "correlated", n, method="moment")[1] for n in (8, 16)]
    replace = [conditional_errors(sampler, "pixel", "white", "correlated", n)[1] for n in (8, 16)]
    assert moment[1] < 2.0 ** (-order + 0.5) * moment[0], f"moment: {moment}"
    assert min(replace) > 0.3 and replace[1] > 0.9 * replace[0], f"replace: {replace}"  # its bias does not shrink


def _exact_posterior_given_known(oracle, process, w_t, t, known_idx, y_w):
    """E[w₀ | w_t, w₀[known] = y] for a Gaussian, in whitened components, per row (known_idx (B, D) bool)."""
    m, k = oracle.white_means[0], oracle.white_covs[0]
    alpha, sigma = process.alpha_sigma(torch.tensor(t, dtype=torch.float64))
    gain = k * alpha[None, :] @ torch.linalg.inv(alpha[:, None] * k * alpha[None, :] + torch.diag(sigma**2))
    post_mean = m + (w_t - alpha * m) @ gain.T
    post_cov = k - gain @ (alpha[:, None] * k)
    out = torch.empty_like(post_mean)
    for b in range(w_t.shape[0]):
        kn = known_idx[b]
        g = post_cov[:, kn] @ torch.linalg.inv(post_cov[kn][:, kn])
        out[b] = post_mean[b] + g @ (y_w[b, kn] - post_mean[b, kn])
    return out


@pytest.mark.parametrize("prior", ["white", "data"])
@pytest.mark.parametrize("t", [0.3, 0.9])
def test_moment_step_is_the_exact_conditional_posterior_mean(prior, t):
    """One conditioned call against the analytic E[w₀ | w_t, y], with a different known set per row (padding),
    chunked passes (max_rows), and no dependence on the state's known components (which is why re-noising
    them before each call, as this implementation does, changes nothing for Gaussian data)."""
    process, _, _ = case("pca", prior)
    oracle = GaussianOracle(process, *target("pca", prior, "correlated"))
    g = torch.Generator().manual_seed(3)
    b, d = 4, process.dim
    mask = torch.zeros(b, d)
    for row, count in enumerate((1, 3, 6, 0)):
        mask[row, torch.randperm(d, generator=g)[:count]] = 1
    y = torch.randn(b, *SHAPE, generator=g, dtype=torch.float64)
    known = Known(y, mask, basis="run", method="moment", max_rows=5)
    constraint = known.resolve(process, b)
    w_t = torch.randn(b, d, generator=g, dtype=torch.float64)

    def rows(rep, k, lo, hi):
        x0 = oracle(process.from_white(rep), torch.full((rep.shape[0],), t, dtype=torch.float64))
        return process.to_white(x0)

    alpha, sigma = process.alpha_sigma(torch.tensor(t, dtype=torch.float64))
    _, got = constraint.condition(w_t, t, rows, alpha, sigma)
    want = _exact_posterior_given_known(oracle, process, w_t, t, mask > 0, process.to_white(y))
    torch.testing.assert_close(got, want, atol=1e-6, rtol=1e-6)
    moved = w_t + 3.0 * mask.double()  # other values on the known components of the state
    _, again = constraint.condition(moved, t, rows, alpha, sigma)
    torch.testing.assert_close(again, got, atol=1e-8, rtol=0)
    plain, nothing_known = Constraint(process, replace(known, mask=torch.zeros(b, d)), b).condition(
        w_t, t, rows, alpha, sigma
    )
    torch.testing.assert_close(nothing_known, plain, atol=0, rtol=0)
    torch.testing.assert_close(plain[3], got[3], atol=1e-10, rtol=0)  # the row with nothing known


def test_moment_pixel_mask_on_an_isotropic_dct_run_equals_the_pixel_run():
    """The non-own path (observation through the basis change) gives the pixel run's exact result."""
    pix, _ = gaussian_process("pixel", "cosine", "white")
    dct, _ = gaussian_process("dct", "cosine", "white")
    mean, cov = target("pixel", "white", "correlated")
    known = known_for("pixel", "white", "correlated", method="moment")
    outs = [
        sampler_output_moments(
            SAMPLERS["ddim"], GaussianOracle(p, mean, cov), p, uniform(6), noise_draws=6, cond={"known": known}
        )
        for p in (pix, dct)
    ]
    torch.testing.assert_close(outs[0][0], outs[1][0], atol=1e-7, rtol=0)
    torch.testing.assert_close(outs[0][1], outs[1][1], atol=1e-7, rtol=0)


def test_moment_tiles_cond_per_row_and_is_reproducible_per_sample():
    """cond entries reach each replica with their own row; sample i depends on its seed alone, in any chunking."""
    process, oracle = gaussian_process("pixel", "cosine", "white")

    def denoiser(x_t, t, labels):
        return oracle(x_t, t) + 0.05 * labels.to(x_t.dtype).reshape(-1, 1, 1, 1)

    y = known_for("pixel", "white", "correlated").values
    mask = known_for("pixel", "white", "correlated").mask
    x_T = process.prior_sample(3, PerSampleNoise([1, 2, 3]), dtype=torch.float64)
    labels = torch.tensor([3, 7, 1])
    batch = SAMPLERS["ddpm"](
        denoiser,
        process,
        x_T,
        uniform(5),
        noise=PerSampleNoise([4, 5, 6]),
        cond={"labels": labels, "known": Known(y, mask, method="moment", max_rows=12)},
    )
    one = SAMPLERS["ddpm"](
        denoiser,
        process,
        x_T[1:2],
        uniform(5),
        noise=PerSampleNoise([5]),
        cond={"labels": labels[1:2], "known": Known(y, mask, method="moment")},
    )
    torch.testing.assert_close(batch[1:2], one, atol=1e-9, rtol=0)


def test_moment_options_are_checked():
    with pytest.raises(DifflabError, match="resample is a 'replace' option"):
        Known(torch.zeros(SHAPE), torch.ones(SHAPE), resample=1, method="moment")
    with pytest.raises(DifflabError, match="method must be one of"):
        Known(torch.zeros(SHAPE), torch.ones(SHAPE), method="exact")
    with pytest.raises(DifflabError, match="jitter"):
        Known(torch.zeros(SHAPE), torch.ones(SHAPE), method="moment", jitter=-1.0)
