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
    errors = [float((fn(oracle, process, x_T, uniform_logsnr(process, n)) - reference).pow(2).mean().sqrt()) for n in STEPS]
    slope = _slope(STEPS, errors)
    assert math.isclose(slope, EXPECTED[sampler], abs_tol=0.25), f"{sampler} on {combo}: order {slope:.2f}, errors {errors}"
