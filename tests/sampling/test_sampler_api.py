"""Sampler contract, over every registered sampler: registry, signature, errors, noise, callbacks, cond, dtypes.

Parametrised over ``SAMPLERS``, so a new sampler gets these tests by being registered. A
sampler that draws generator noise ξ (``xi``) runs with a generator denoiser; every other
one with the mean denoiser, which rejects ``xi``, so a new generator sampler fails loudly
until it is listed in ``GENERATOR_SAMPLERS``.
"""

import inspect
import math

import pytest
import torch

from difflab.errors import DifflabError
from difflab.process.noise import PerSampleNoise
from difflab.sampling import SAMPLERS, bridge_step, get_sampler, uniform
from difflab.sampling.registry import option_owners, options_of

from .gaussian_cases import gaussian_process

NAMES = list(SAMPLERS)
GENERATOR_SAMPLERS = {"distributional"}  # call the denoiser with generator noise xi (De Bortoli et al.)
# Options that switch a sampler's stochastic path on, for the per-sample-noise test.
STOCHASTIC_OPTIONS = {"ddim": {"eta": 0.5}, "distributional": {"churn": 0.5}, "heun": {"s_churn": 2.0}}


@pytest.fixture(scope="module")
def setup():
    return gaussian_process("haar", "cosine", "data")


def for_sampler(name, denoiser):
    """``denoiser(x, t, **cond)`` as ``name`` calls it: with generator noise ξ for a generator sampler.

    The generator adds 0.1 ξ, so its samples really depend on ξ; the mean denoiser takes no ξ.
    """
    if name not in GENERATOR_SAMPLERS:
        return denoiser

    def generator(x, t, *, xi, **cond):
        assert xi.shape == x.shape and xi.dtype == x.dtype
        return denoiser(x, t, **cond) + 0.1 * xi

    return generator


def test_registry_names_and_unknown_name():
    assert set(GENERATOR_SAMPLERS) <= set(SAMPLERS) and set(STOCHASTIC_OPTIONS) <= set(SAMPLERS)
    for name in NAMES:
        assert get_sampler(name) is SAMPLERS[name]
    assert get_sampler("heun") is SAMPLERS["heun"]
    with pytest.raises(DifflabError, match="ddpm, ddim, euler, heun, dpmpp2m"):
        get_sampler("plms")


@pytest.mark.parametrize("name", NAMES)
def test_signature_follows_the_contract(name):
    """``(denoiser, process, x_T, times, *, noise=None, callback=None, cond=None, **own options)``."""
    params = list(inspect.signature(SAMPLERS[name]).parameters.values())
    assert [p.name for p in params[:4]] == ["denoiser", "process", "x_T", "times"]
    assert all(p.kind is p.POSITIONAL_OR_KEYWORD for p in params[:4])
    keywords = {p.name: p for p in params[4:]}
    assert all(p.kind is p.KEYWORD_ONLY and p.default is not p.empty for p in keywords.values())
    assert all(keywords[k].default is None for k in ("noise", "callback", "cond"))
    assert set(options_of(name)) == set(keywords) - {"noise", "callback", "cond"}
    assert set(STOCHASTIC_OPTIONS.get(name, {})) <= set(options_of(name))


def test_option_owners_come_from_the_signatures():
    heun = {"heun_form": "heun", "s_churn": "heun", "s_tmin": "heun", "s_tmax": "heun", "s_noise": "heun"}
    assert option_owners() == {"eta": "ddim", "churn": "distributional", "variance": "ddpm", **heun}
    assert options_of("ddim") == {"eta": 0.0} and options_of("distributional") == {"churn": 0.0}
    assert options_of("ddpm") == {"variance": "fixed_small"}
    assert options_of("heun") == {
        "heun_form": "exponential",
        "s_churn": 0.0,
        "s_tmin": 0.0,
        "s_tmax": math.inf,
        "s_noise": 1.0,
    }


@pytest.mark.parametrize("name", NAMES)
def test_nan_denoiser_error_names_step_and_time(setup, name):
    process, oracle = setup

    def broken(x, t):
        out = oracle(x, t)
        return out * float("nan") if float(t[0]) < 0.6 else out

    step = 1 if name == "heun" else 2  # Heun's corrector of step 1 is the first call at t = 0.5
    with pytest.raises(DifflabError, match=rf"NaN/Inf at step {step} \(t=0\.5\)"):
        SAMPLERS[name](for_sampler(name, broken), process, process.prior_sample(2), uniform(4))
    with pytest.raises(DifflabError, match="NaN/Inf at step 0"):
        SAMPLERS[name](for_sampler(name, lambda x, t: x * float("nan")), process, process.prior_sample(2), uniform(2))


@pytest.mark.parametrize("name", NAMES)
def test_non_monotone_grid_is_rejected(setup, name):
    process, oracle = setup
    with pytest.raises(DifflabError, match="strictly decreasing"):
        SAMPLERS[name](for_sampler(name, oracle), process, process.prior_sample(2), torch.tensor([1.0, 0.3, 0.5, 0.0]))


@pytest.mark.parametrize("name", NAMES)
def test_per_sample_noise_makes_a_sample_independent_of_its_batch(setup, name):
    process, oracle = setup
    seeds3, seeds7 = [11, 5, 42], [1, 2, 42, 3, 4, 5, 6]
    opts = STOCHASTIC_OPTIONS.get(name, {})

    def run(seeds):
        x_T = process.prior_sample(len(seeds), noise=PerSampleNoise(seeds))
        return SAMPLERS[name](
            for_sampler(name, oracle), process, x_T, uniform(8), noise=PerSampleNoise([s + 1000 for s in seeds]), **opts
        )

    a, b = run(seeds3), run(seeds7)
    torch.testing.assert_close(a[2], b[2], rtol=1e-5, atol=1e-5)
    assert not torch.allclose(a[0], a[2])  # the noise really is per sample


@pytest.mark.parametrize("name", NAMES)
def test_callback_once_per_step_and_cond_and_dtype(setup, name):
    process, oracle = setup
    calls = []

    def denoiser(x, t, *, label):
        assert x.dtype == torch.float32 and t.shape == (x.shape[0],) and label == 7
        return oracle(x, t)

    times = uniform(5)
    out = SAMPLERS[name](
        for_sampler(name, denoiser),
        process,
        process.prior_sample(3),
        times,
        cond={"label": 7},
        callback=lambda i, t, s, x, x0: calls.append((i, t, s, x.shape, x0.shape)),
    )
    assert out.dtype == torch.float32 and out.shape == (3, 1, 4, 4)
    assert [c[0] for c in calls] == list(range(5))
    assert [(c[1], c[2]) for c in calls] == [(float(times[i]), float(times[i + 1])) for i in range(5)]
    assert all(c[3] == c[4] == (3, 1, 4, 4) for c in calls)


@pytest.mark.parametrize("name", [n for n in NAMES if n in STOCHASTIC_OPTIONS and n != "heun"])
def test_an_option_outside_its_range_is_one_difflab_error(setup, name):
    """The [0, 1] churn-like options; heun's S_churn >= 0 is checked in test_heun_forms.py."""
    process, oracle = setup
    (option,) = STOCHASTIC_OPTIONS[name]
    for bad in (-0.1, 1.5):
        with pytest.raises(DifflabError, match=rf"{option}.*must be in \[0, 1\], got {bad}"):
            SAMPLERS[name](for_sampler(name, oracle), process, process.prior_sample(2), uniform(1), **{option: bad})


def test_bridge_step_limits_and_marginal_preservation():
    g = torch.Generator().manual_seed(0)
    a_t, s_t = torch.tensor([0.6]), torch.tensor([0.8])
    a_s, s_s = torch.tensor([0.9]), torch.tensor([0.19**0.5])
    wt, w0 = torch.randn(4, 1, generator=g), torch.randn(4, 1, generator=g)
    eps = torch.randn(4, 1, generator=g)
    ddim = bridge_step(wt, w0, a_t, s_t, a_s, s_s, 0.0, None)
    torch.testing.assert_close(ddim, a_s * w0 + s_s * (wt - a_t * w0) / s_t)
    # ε = 1: the DDPM posterior q(x_s | x_t, x₀) mean and variance.
    a_ts, var_ts = a_t / a_s, s_t**2 - (a_t / a_s) ** 2 * s_s**2
    mean = a_ts * s_s**2 / s_t**2 * wt + a_s * var_ts / s_t**2 * w0
    torch.testing.assert_close(
        bridge_step(wt, w0, a_t, s_t, a_s, s_s, 1.0, eps), mean + (var_ts * s_s**2 / s_t**2).sqrt() * eps
    )
    # Any churn keeps w_t ~ N(α_t w₀, σ_t²) mapped to N(α_s w₀, σ_s²) for a known w₀.
    n = 200_000
    w0 = torch.full((n, 1), 0.7, dtype=torch.float64)
    wt = a_t.double() * w0 + s_t.double() * torch.randn(n, 1, generator=g, dtype=torch.float64)
    ws = bridge_step(
        wt,
        w0,
        a_t.double(),
        s_t.double(),
        a_s.double(),
        s_s.double(),
        0.6,
        torch.randn(n, 1, generator=g, dtype=torch.float64),
    )
    assert abs(float(ws.mean()) - 0.9 * 0.7) < 0.005 and abs(float(ws.var()) - 0.19) < 0.005


def test_frozen_components_stay_put():
    a, s = torch.tensor([0.6, 0.6]), torch.tensor([0.8, 0.8])
    a2, s2 = torch.tensor([0.6, 0.9]), torch.tensor([0.8, 0.19**0.5])
    wt = torch.tensor([[1.5, 1.5]])
    out = bridge_step(wt, torch.zeros(1, 2), a, s, a2, s2, 1.0, torch.ones(1, 2))
    assert float(out[0, 0]) == 1.5 and float(out[0, 1]) != 1.5
