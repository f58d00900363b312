"""network.kind diffusers trains a UNet2DModel in difflab; export --format diffusers writes a DDPMPipeline folder."""

from __future__ import annotations

import pytest
import torch

from difflab.cli.main import main
from difflab.models import load_run
from difflab.pipeline.run import export_run, train_run
from difflab.sampling.ddim import sample_ddim
from difflab.sampling.grids import build_grid
from tests.helpers import tiny_config

from .diffusers_cases import diffusers, diffusers_loop

TINY_DIFFUSERS = ["network.kind=diffusers", "network.base_channels=8", "network.channel_mults=[1,2]"]


@pytest.fixture(scope="module", params=["cosine", "linear"])
def trained(request, tmp_path_factory):
    cfg = tiny_config(*TINY_DIFFUSERS, f"process.schedule={request.param}", "method.prediction=eps")
    return train_run(cfg, tmp_path_factory.mktemp("train") / "run", progress=False)


def test_export_round_trip_ddpm_pipeline_loads_and_samples(trained, tmp_path):
    out = export_run(trained, tmp_path / "hub", format="diffusers")
    pipe = diffusers.DDPMPipeline.from_pretrained(out)
    images = pipe(batch_size=2, num_inference_steps=5, output_type="np", generator=torch.manual_seed(0)).images
    assert images.shape == (2, 8, 8, 1) and torch.isfinite(torch.as_tensor(images)).all()
    run, back = load_run(trained), load_run(out)  # and back in: the exported table is the run's γ
    ts = torch.tensor([1.0, 0.5, 0.05, 0.001], dtype=torch.float64)
    # diffusers rebuilds ᾱ from float32 β by a float32 product, so ᾱ survives to float32 rounding (1e-6
    # absolute); where 1 - ᾱ is ~1e-6 (γ < -12) that is a visible relative error in γ, not in ᾱ or σ·ε.
    a_back, a_run = (torch.sigmoid(-r.denoiser.process.gamma(ts)) for r in (back, run))
    torch.testing.assert_close(a_back, a_run, rtol=0, atol=2e-6)
    x = torch.randn(4, 1, 8, 8)
    with torch.no_grad():
        torch.testing.assert_close(back.denoiser(x, ts), run.denoiser(x, ts), rtol=1e-4, atol=1e-4)
    # diffusers' own DDIM on the exported folder equals difflab's ddim on the run, same x_T and timesteps
    sched = diffusers.DDIMScheduler.from_pretrained(out / "scheduler", clip_sample=False, set_alpha_to_one=True)
    unet = pipe.unet.eval()
    x_T = torch.randn(3, 1, 8, 8, generator=torch.Generator().manual_seed(1))
    theirs = diffusers_loop(lambda x, k: unet(x, k).sample, sched, x_T, 10)
    with torch.no_grad():
        ours = sample_ddim(run.denoiser, run.denoiser.process, x_T, build_grid("leading", run.denoiser.process, 10))
    assert (ours - theirs).abs().max() < 1e-3


@pytest.mark.parametrize(
    ("overrides", "why"),
    [
        ([], "difflab's 'unet'"),
        ([*TINY_DIFFUSERS, "process.basis=dct"], "'dct' basis"),
        ([*TINY_DIFFUSERS, "process.schedule=sequential"], "component-wise"),
    ],
)
def test_runs_diffusers_cannot_express_say_why(tmp_path, capsys, overrides, why):
    cfg = tiny_config("train.steps=1", "train.checkpoint_every=1", *overrides)
    run = train_run(cfg, tmp_path / "run", progress=False)
    assert main(["export", str(run), "--out", str(tmp_path / "hub"), "--format", "diffusers"]) != 0
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "cannot export to diffusers" in err and why in err, err
    assert not (tmp_path / "hub").exists() and not list(tmp_path.glob(".tmp_*"))
