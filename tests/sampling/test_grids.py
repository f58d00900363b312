"""Time grids: shape, monotonicity, end points, and their defining spacing."""

import pytest
import torch

from difflab.errors import DifflabError
from difflab.process.bases.pixel import PixelBasis
from difflab.process.process import Process
from difflab.process.schedules.scalar import CosineSchedule, LinearGamma
from difflab.sampling import build_grid, edm, uniform, uniform_logsnr, user
from difflab.sampling.grids import mean_logsnr


@pytest.fixture(scope="module")
def cosine():
    return Process(PixelBasis((1, 2, 2)), CosineSchedule())


def _check(t: torch.Tensor, n: int):
    assert t.dtype == torch.float64 and t.shape == (n + 1,)
    assert (t[1:] < t[:-1]).all()
    assert float(t[0]) == 1.0 and float(t[-1]) == 0.0


@pytest.mark.parametrize("name", ["uniform", "uniform_logsnr", "edm"])
@pytest.mark.parametrize("n", [1, 2, 7, 50])
def test_grids_are_strictly_decreasing_from_1_to_0(cosine, name, n):
    _check(build_grid(name, cosine, n), n)


def test_uniform_logsnr_is_even_in_mean_logsnr(cosine):
    t = uniform_logsnr(cosine, 20)
    lam = mean_logsnr(cosine, t)
    steps = lam[1:] - lam[:-1]
    assert torch.allclose(steps, steps.mean().expand_as(steps), rtol=1e-6)


def test_uniform_logsnr_of_linear_gamma_is_uniform_in_t():
    process = Process(PixelBasis((4,)), LinearGamma())
    assert torch.allclose(uniform_logsnr(process, 10), uniform(10), atol=1e-9)


def test_edm_follows_rho_spacing(cosine):
    n, rho = 10, 7.0
    t = edm(cosine, n, rho=rho)
    nu = torch.exp(-mean_logsnr(cosine, t[:-1]) / 2)  # EDM σ = σ/α of the interior times
    lin = nu ** (1 / rho)
    assert torch.allclose(lin[1:] - lin[:-1], (lin[1] - lin[0]).expand(n - 1), rtol=1e-5)
    assert abs(float(nu[-1]) - 0.002) < 1e-6


def test_edm_rejects_sigma_min_below_process_floor(cosine):
    with pytest.raises(DifflabError, match="sigma_min"):
        edm(cosine, 10, sigma_min=1e-5)


@pytest.mark.parametrize(
    "bad, match",
    [
        ([1.0, 0.5, 0.6, 0.0], "strictly decreasing"),
        ([1.0, 0.5, 0.5, 0.0], "strictly decreasing"),
        ([1.2, 0.5, 0.0], r"\[0, 1\]"),
        ([1.0, -0.1], r"\[0, 1\]"),
        ([1.0, float("nan"), 0.0], "NaN"),
        ([0.5], "at least 2"),
    ],
)
def test_user_grid_validation(bad, match):
    with pytest.raises(DifflabError, match=match):
        user(bad)


def test_user_grid_accepts_partial_range_and_returns_float64():
    t = user(torch.tensor([0.8, 0.3, 0.1], dtype=torch.float32))
    assert t.dtype == torch.float64 and t.shape == (3,)


def test_unknown_grid_and_bad_n(cosine):
    with pytest.raises(DifflabError, match="uniform_logsnr"):
        build_grid("geometric", cosine, 10)
    with pytest.raises(DifflabError, match="positive integer"):
        uniform(0)


def test_uniform_takes_the_process_like_every_grid():
    """``uniform(process, n)`` like ``edm(process, n)``; ``uniform(n)`` and ``uniform(n, t_max, t_min)`` still work."""
    from difflab.process import build_process

    process = build_process((2,))
    assert torch.equal(uniform(process, 6), uniform(6))
    assert torch.equal(build_grid("uniform", process, 6), uniform(6))
    assert torch.equal(uniform(process, 4, t_max=0.5), uniform(4, 0.5))
    assert torch.equal(uniform(4, 0.8, 0.2), torch.linspace(0.8, 0.2, 5, dtype=torch.float64))
