"""Parity with diffusers on the same checkpoint and the same x_T, and which library is closer to exact.

Tiny UNet2DModel built and saved inside the tests; the Gaussian oracle (difflab.process.oracles) is the
exact model where an exact answer is needed.
"""

from __future__ import annotations

import pytest
import torch

from difflab.models import load_run
from difflab.process.factory import build_process
from difflab.process.oracles import GaussianOracle
from difflab.process.schedules.discrete import time_of
from difflab.sampling.ddim import sample_ddim, sample_ddpm
from difflab.sampling.dpm_solver import sample_dpmpp_2m
from difflab.sampling.grids import build_grid
from difflab.sampling.timesteps import diffusers_timesteps, from_timesteps

from .diffusers_cases import diffusers, diffusers_loop, save_pipeline, tiny_unet

TABLES = [
    dict(),
    dict(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012),
    dict(beta_schedule="squaredcos_cap_v2"),
]


@pytest.mark.parametrize("table", TABLES, ids=["linear", "scaled_linear", "cosine"])
def test_forward_noising_equals_add_noise_at_every_timestep(table):
    process = build_process((1, 8, 8), schedule="discrete", **table)
    sched = diffusers.DDPMScheduler(**table)
    ks = torch.arange(1000)
    x0 = torch.randn(1000, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    eps = torch.randn(1000, 64, generator=torch.Generator().manual_seed(1))
    ours, _ = process.noise(x0.double(), time_of(ks, 1000), eps=eps.double())
    theirs = sched.add_noise(x0.double(), eps.double().reshape(1000, 1, 8, 8), ks)
    assert (ours - theirs).abs().max() < 1e-12  # the same ᾱ_k, computed in float64 on both sides


@pytest.fixture(scope="module", params=["epsilon", "v_prediction", "sample"])
def pipe(request, tmp_path_factory):
    folder = tmp_path_factory.mktemp("pipe") / "ddpm"
    return save_pipeline(folder, unet=tiny_unet(seed=3), prediction_type=request.param)


def _unet_fn(pipe):
    unet = diffusers.UNet2DModel.from_pretrained(pipe / "unet").eval()
    return lambda x, k: unet(x, k).sample


@pytest.mark.parametrize("n", [10, 50])
def test_ddim_equals_diffusers_ddim_on_a_trained_unet(pipe, n):
    run = load_run(pipe)
    sched = diffusers.DDIMScheduler.from_pretrained(pipe / "scheduler", clip_sample=False, set_alpha_to_one=True)
    assert sched.config.timestep_spacing == "leading"
    x_T = torch.randn(4, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    theirs = diffusers_loop(_unet_fn(pipe), sched, x_T, n)
    grid = build_grid("leading", run.denoiser.process, n)
    assert torch.equal(grid[:-1], time_of(sched.timesteps, 1000))
    with torch.no_grad():
        ours = sample_ddim(run.denoiser, run.denoiser.process, x_T, grid)
    # float32 network on both sides; difflab keeps float64 state, diffusers float32
    assert (ours - theirs).abs().max() < 2e-4, (ours - theirs).abs().max()


@pytest.mark.parametrize("n", [10, 20])
def test_dpmpp2m_equals_diffusers_dpmsolver_pp_2m(pipe, n):
    run = load_run(pipe)
    sched = diffusers.DPMSolverMultistepScheduler.from_pretrained(
        pipe / "scheduler", algorithm_type="dpmsolver++", solver_order=2, final_sigmas_type="zero"
    )
    x_T = torch.randn(4, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    theirs = diffusers_loop(_unet_fn(pipe), sched, x_T, n)
    # diffusers' last step to σ = 0 is first order (x̂₀), as difflab's step to t = 0
    grid = from_timesteps(sched.timesteps, 1000)
    with torch.no_grad():
        ours = sample_dpmpp_2m(run.denoiser, run.denoiser.process, x_T, grid)
    assert (ours - theirs).abs().max() < 2e-4, (ours - theirs).abs().max()


def test_continuous_ddpm_schedule_is_not_the_bridge():
    """The old bridge (continuous ``ddpm`` schedule, timestep 1000 t) is off by O(1) in γ at the table points."""
    discrete = build_process((1, 2, 2), schedule="discrete")
    continuous = build_process((1, 2, 2), schedule="ddpm")
    ks = torch.tensor([0, 1, 10, 999])
    off = (discrete.gamma(time_of(ks, 1000)) - continuous.gamma(ks.double() / 1000))[:, 0].abs()
    assert off[0] > 4 and off.max() > 4  # at k = 0 the continuous γ(0) is ~ -13.8 vs the table's -9.2


# --- the exact Gaussian oracle -----------------------------------------------------------------------


def _gaussian(table=None):
    process = build_process((1, 2, 2), schedule="discrete", **(table or {}))
    g = torch.Generator().manual_seed(0)
    a = torch.randn(4, 4, generator=g, dtype=torch.float64)
    cov = a @ a.T / 4 + 0.05 * torch.eye(4, dtype=torch.float64)
    mean = 0.3 * torch.randn(4, generator=g, dtype=torch.float64)
    return process, GaussianOracle(process, mean, cov), mean, cov


def exact_flow(process, mean, cov, x_T):
    """The PF-ODE solution from t = 1 to clean data for N(mean, cov) data (pixel basis, white prior).

    In cov's eigenbasis each coordinate keeps its standardised value along the flow:
    x_t = α m + √(α² λ + σ²) z, so x₀ = m + √λ z with z read off at t = 1.
    """
    lam, v = torch.linalg.eigh(cov)
    a, s = process.alpha_sigma(torch.tensor(1.0))
    a, s = a[0].item(), s[0].item()
    u = (x_T.reshape(len(x_T), -1).double() - a * mean) @ v
    z = u / (a**2 * lam + s**2).sqrt()
    return (mean + (z * lam.sqrt()) @ v.T).reshape(x_T.shape)


def _f64(sched):
    """diffusers keeps ᾱ in float32; in float64 its arithmetic is comparable to difflab's to rounding."""
    sched.alphas_cumprod = sched.alphas_cumprod.double()
    if hasattr(sched, "final_alpha_cumprod"):
        sched.final_alpha_cumprod = sched.final_alpha_cumprod.double()
    return sched


def _eps_fn(process, oracle):
    """The oracle as an ε-prediction model for diffusers, on the same ᾱ_k."""

    def fn(x, k):
        t = time_of(torch.full((x.shape[0],), int(k)), 1000)
        a, s = process.alpha_sigma(t[:1])
        x0 = oracle(x.double(), t)
        return ((x.double() - a[0, 0] * x0) / s[0, 0]).to(x.dtype)

    return fn


@pytest.mark.parametrize("n", [10, 50])
def test_ddim_on_the_oracle_same_timesteps_same_answer(n):
    process, oracle, mean, cov = _gaussian()
    x_T = torch.randn(64, 1, 2, 2, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    sched = _f64(diffusers.DDIMScheduler(clip_sample=False, set_alpha_to_one=True))
    theirs = diffusers_loop(_eps_fn(process, oracle), sched, x_T, n)
    ours = sample_ddim(oracle, process, x_T, build_grid("leading", process, n))
    assert (ours - theirs).abs().max() < 1e-12


def test_trailing_spacing_at_16_steps_diffusers_is_off_by_its_stride():
    """diffusers' DDIM steps k -> k - 62 (⌊1000/16⌋) but evaluates next at k - 62.5 rounded: difflab lands
    exactly on the next evaluation and is closer to the exact PF-ODE answer."""
    n = 16
    ks = diffusers_timesteps(1000, n, "trailing")
    strides = -(ks[1:] - ks[:-1])
    assert set(strides.tolist()) == {62, 63} and 1000 // n == 62  # a 63-stride is where diffusers lands off
    process, oracle, mean, cov = _gaussian()
    x_T = torch.randn(256, 1, 2, 2, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    sched = _f64(diffusers.DDIMScheduler(clip_sample=False, set_alpha_to_one=True, timestep_spacing="trailing"))
    theirs = diffusers_loop(_eps_fn(process, oracle), sched, x_T, n)
    assert torch.equal(sched.timesteps, ks)
    ours = sample_ddim(oracle, process, x_T, build_grid("trailing", process, n))
    exact = exact_flow(process, mean, cov, x_T)
    err_ours, err_theirs = (ours - exact).abs().max().item(), (theirs - exact).abs().max().item()
    assert (ours - theirs).abs().max() > 1e-4  # they differ, and not by float rounding
    assert err_ours < err_theirs, (err_ours, err_theirs)


def test_ddpm_matches_diffusers_ddpm_in_distribution():
    """Ancestral DDPM (fixed_small = posterior variance) on the oracle, 50 leading steps, n = 4000 per library:
    the two libraries' sample means and covariances agree within sampling error (different noise draws).

    Neither equals the data covariance at 50 steps (ancestral DDPM with few steps under-disperses, ~12% here
    on the largest variance), which is why the libraries are compared with each other.
    """
    process, oracle, mean, cov = _gaussian()
    n, steps = 4000, 50
    x_T = torch.randn(n, 1, 2, 2, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    sched = _f64(diffusers.DDPMScheduler(clip_sample=False, variance_type="fixed_small"))
    theirs = diffusers_loop(_eps_fn(process, oracle), sched, x_T, steps, generator=torch.Generator().manual_seed(4))
    grid = build_grid("leading", process, steps)
    ours = sample_ddpm(oracle, process, x_T, grid, noise=torch.Generator().manual_seed(5))
    a, b = ours.reshape(n, -1), theirs.reshape(n, -1)
    scale = cov.diagonal().max()
    assert (a.mean(0) - b.mean(0)).abs().max() < 0.05 * scale.sqrt() * 4  # 4 standard errors of a difference
    assert (torch.cov(a.T) - torch.cov(b.T)).abs().max() < 0.1 * scale
    assert (torch.cov(a.T) - cov).abs().max() > 0.05 * scale  # the under-dispersion is real, not a test artefact
