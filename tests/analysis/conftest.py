"""Tiny UNets (ours and diffusers') shared by the analysis tests."""

import pytest
import torch

from difflab.nn import UNet


@pytest.fixture
def unet() -> UNet:
    torch.manual_seed(0)
    return UNet(
        in_channels=1, base_channels=8, channel_mults=(1, 2), num_res_blocks=1, attention_levels=(1,), heads=2
    ).eval()


@pytest.fixture
def dunet():
    diffusers = pytest.importorskip("diffusers")
    torch.manual_seed(0)
    return diffusers.UNet2DModel(
        sample_size=8,
        in_channels=1,
        out_channels=1,
        block_out_channels=(16, 32),
        layers_per_block=1,
        down_block_types=("DownBlock2D", "AttnDownBlock2D"),
        up_block_types=("AttnUpBlock2D", "UpBlock2D"),
        norm_num_groups=8,
    ).eval()


@pytest.fixture
def x() -> torch.Tensor:
    return torch.randn(2, 1, 8, 8, generator=torch.Generator().manual_seed(1))


TIMES = (0.9, 0.7, 0.5, 0.3, 0.1)


def _run(model, x, times=TIMES):
    """Outputs of ``model`` over a short sequence of calls with a shared t per call."""
    with torch.no_grad():
        return [model(x, torch.full((x.shape[0],), t)) for t in times]


def _run_diffusers(model, x, timesteps=(900, 500, 100)):
    with torch.no_grad():
        return [model(x, torch.tensor(ts)).sample for ts in timesteps]


def _hook_state(model) -> list:
    """Everything hooks or instance-level forwards could leave behind, per module."""
    return [
        (name, len(m._forward_pre_hooks), len(m._forward_hooks), "forward" in m.__dict__)
        for name, m in model.named_modules()
    ]


@pytest.fixture
def run():
    return _run


@pytest.fixture
def run_diffusers():
    return _run_diffusers


@pytest.fixture
def hook_state():
    return _hook_state
