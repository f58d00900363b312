"""x̂₀ clipping and dynamic thresholding: diffusers as the reference, the Gaussian oracle for the samplers."""

import math

import pytest
import torch

from difflab.errors import DifflabError
from difflab.process.noise import PerSampleNoise
from difflab.sampling import SAMPLERS, bridge_step, uniform
from difflab.sampling.x0 import X0Processed, clip_x0, dynamic_threshold

from .gaussian_cases import gaussian_process

diffusers = pytest.importorskip("diffusers")


@pytest.mark.parametrize("ratio,max_value", [(0.995, 1.0), (0.9, 2.5), (0.5, 10.0)])
def test_dynamic_threshold_is_diffusers_threshold_sample(ratio, max_value):
    sched = diffusers.DDPMScheduler(thresholding=True, dynamic_thresholding_ratio=ratio, sample_max_value=max_value)
    x0 = 2.0 * torch.randn(5, 3, 4, 4, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    x0[0] *= 0.2  # one sample already inside [-1, 1]: s clamps to 1, a plain clip
    assert torch.allclose(dynamic_threshold(x0, ratio, max_value), sched._threshold_sample(x0), atol=1e-12)
    assert torch.equal(dynamic_threshold(x0, 1.0, 1.0), clip_x0(x0, 1.0))  # s = max clamped to 1


@pytest.mark.parametrize("eta", [0.0, 0.5])
def test_clipped_ddim_step_is_diffusers_glide_convention(eta):
    """difflab's step from a clipped x̂₀ = DDIMScheduler(clip_sample, use_clipped_model_output=True)."""
    sched = diffusers.DDIMScheduler(beta_schedule="linear", clip_sample=True, clip_sample_range=0.8)
    sched.set_timesteps(10)
    ab = sched.alphas_cumprod.double()
    g = torch.Generator().manual_seed(1)
    t, prev = 601, 501
    x_t = torch.randn(4, 16, generator=g, dtype=torch.float64)
    eps_hat = 1.5 * torch.randn(4, 16, generator=g, dtype=torch.float64)
    z = torch.randn(4, 16, generator=g, dtype=torch.float64)
    theirs = sched.step(eps_hat, t, x_t, eta=eta, use_clipped_model_output=True, variance_noise=z).prev_sample
    a_t, s_t, a_s, s_s = (
        v.reshape(1) for v in (ab[t].sqrt(), (1 - ab[t]).sqrt(), ab[prev].sqrt(), (1 - ab[prev]).sqrt())
    )
    x0 = clip_x0((x_t - s_t * eps_hat) / a_t, 0.8)
    ours = bridge_step(x_t, x0, a_t, s_t, a_s, s_s, eta, z, rule="eta")
    assert torch.allclose(ours, theirs.double(), atol=1e-5)


@pytest.mark.parametrize("sampler", ["ddim", "heun", "dpmpp2m", "ddpm", "euler"])
def test_processing_on_the_gaussian_oracle(sampler):
    process, oracle = gaussian_process("dct", "cosine", "white")
    x_T = process.prior_sample(8, PerSampleNoise(range(8)), dtype=torch.float64)
    run = SAMPLERS[sampler]

    def sample(den):
        return run(den, process, x_T, uniform(8), noise=PerSampleNoise(range(20, 28)))

    plain = sample(oracle)
    assert torch.equal(sample(X0Processed(oracle, clip=math.inf)), plain)  # a bound nothing reaches: no change
    clipped = sample(X0Processed(oracle, clip=0.3))
    # The last step returns the clipped x̂₀ (through the basis round trip: float64 rounding only).
    assert clipped.abs().max() <= 0.3 + 1e-12 and not torch.equal(clipped, plain)
    thresholded = sample(X0Processed(oracle, threshold=0.9, threshold_max=4.0))
    assert thresholded.abs().max() <= 1.0 + 1e-12


def test_bad_settings_are_one_line():
    process, oracle = gaussian_process("pixel", "cosine", "white")
    with pytest.raises(DifflabError, match="clip_x0 must be a positive bound"):
        X0Processed(oracle, clip=0.0)
    with pytest.raises(DifflabError, match=r"percentile ratio in \(0, 1\]"):
        X0Processed(oracle, threshold=99.5)
    with pytest.raises(DifflabError, match="not both"):
        X0Processed(oracle, clip=1.0, threshold=0.99)
