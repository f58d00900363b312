"""Order of convergence on the exact Gaussian denoiser: Heun and DPM-Solver++(2M) ≈ 2, DDIM ≈ 1.

Each solver's deterministic output for fixed x_T is compared with its own
2048-step solution; the slope of log error against log steps is the order.
The grid is uniform in log-SNR: a uniform-t grid under the cosine schedule has
ν = σ/α ∝ √t near t = 0, so the final step alone would make every solver first order.
"""

import math

import pytest
import torch

from difflab.sampling import SAMPLERS, uniform_logsnr

from .gaussian_cases import gaussian_process

STEPS = (16, 32, 64, 128)
# Every deterministic sampler must declare its order here (test_every_deterministic_sampler_declares_its_order).
EXPECTED = {"ddim": 1.0, "heun": 2.0, "dpmpp2m": 2.0}


def _slope(steps, errors) -> float:
    x = torch.log(torch.tensor(steps, dtype=torch.float64))
    y = torch.log(torch.tensor(errors, dtype=torch.float64))
    x = x - x.mean()
    return float(-(x * (y - y.mean())).sum() / (x * x).sum())


@pytest.mark.parametrize("sampler", sorted(EXPECTED))
@pytest.mark.parametrize("combo", [("pixel", "cosine", "white"), ("dct", "soft", "data")], ids=lambda c: "-".join(c))
def test_order_of_convergence(sampler, combo):
    process, oracle = gaussian_process(*combo)
    fn = SAMPLERS[sampler]
    x_T = process.prior_sample(32, noise=torch.Generator().manual_seed(0), dtype=torch.float64)
    reference = fn(oracle, process, x_T, uniform_logsnr(process, 2048))
    errors = [
        float((fn(oracle, process, x_T, uniform_logsnr(process, n)) - reference).pow(2).mean().sqrt()) for n in STEPS
    ]
    slope = _slope(STEPS, errors)
    assert math.isclose(slope, EXPECTED[sampler], abs_tol=0.25), (
        f"{sampler} on {combo}: order {slope:.2f}, errors {errors}"
    )


def test_expected_orders_name_registered_samplers():
    unknown = set(EXPECTED) - set(SAMPLERS)
    assert not unknown, f"EXPECTED names samplers that are not registered: {sorted(unknown)}"


@pytest.mark.parametrize("sampler", list(SAMPLERS))
def test_every_deterministic_sampler_declares_its_order(sampler):
    """A sampler whose output does not depend on its noise source is an ODE solver: its order is tested above."""
    process, oracle = gaussian_process("pixel", "cosine", "white")
    x_T = process.prior_sample(4, noise=torch.Generator().manual_seed(0), dtype=torch.float64)

    def denoiser(x, t, **cond):  # a generator sampler passes xi; use it, so its noise shows
        return oracle(x, t) + 0.1 * cond["xi"] if "xi" in cond else oracle(x, t)

    times = uniform_logsnr(process, 4)
    a, b = (SAMPLERS[sampler](denoiser, process, x_T, times, noise=torch.Generator().manual_seed(s)) for s in (1, 2))
    if torch.equal(a, b):
        assert sampler in EXPECTED, f"{sampler} is deterministic: add its order of convergence to EXPECTED"
    else:
        assert sampler not in EXPECTED, f"{sampler} is stochastic; an order on one noise draw means nothing"
