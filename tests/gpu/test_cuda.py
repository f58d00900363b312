"""The GPU path, end to end. Skipped where no CUDA device is present (CI has none).

Run on a GPU machine with ``pytest tests/gpu``: training in fp32 and bf16 autocast,
checkpoints that load on the CPU, every sampler agreeing with its CPU result,
the distributional and DMZ models, and shortcut reuse on CUDA tensors.
"""

import pytest
import torch

from difflab.analysis.shortcuts import Shortcut, ShortcutSchedule, deep_groups, shortcut_denoiser
from difflab.pipeline import generate, load_run, train_run
from difflab.pipeline.evaluate import evaluate_run
from difflab.sampling.registry import SAMPLERS
from tests.helpers import ROOT, TINY

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


@pytest.fixture(autouse=True)
def exact_float32():
    """TF32 would make GPU-vs-CPU comparisons loose by ~1e-3; the comparisons below want fp32."""
    saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    yield
    torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved


def _train(tmp_path, config="digits.yaml", *overrides):
    from difflab.config import load_config
    from difflab.config.schema import RunConfig

    cfg = load_config(RunConfig, ROOT / "configs" / config, [*TINY, "train.device=cuda", *overrides])
    train_run(cfg, tmp_path, progress=False)
    return tmp_path


@pytest.fixture(scope="module")
def cuda_run(tmp_path_factory):
    return _train(tmp_path_factory.mktemp("cuda_run"), "digits.yaml", "train.precision=fp32")


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_training_on_cuda_gives_finite_weights_that_load_on_the_cpu(tmp_path, precision):
    _train(tmp_path, "digits.yaml", f"train.precision={precision}")
    run = load_run(tmp_path)  # CPU
    assert run.step == 12
    assert all(torch.isfinite(p).all() for p in run.denoiser.parameters())
    assert next(run.denoiser.parameters()).device.type == "cpu"


@pytest.mark.parametrize("sampler", list(SAMPLERS))  # every registered sampler
def test_every_sampler_on_cuda_matches_the_cpu(cuda_run, sampler):
    cpu, gpu = load_run(cuda_run), load_run(cuda_run, device="cuda")
    x_cpu, nfe_cpu = generate(cpu, 32, steps=8, sampler=sampler, seed=3)
    x_gpu, nfe_gpu = generate(gpu, 32, steps=8, sampler=sampler, seed=3)
    assert nfe_cpu == nfe_gpu and x_gpu.device.type == "cpu"
    rel = float((x_gpu - x_cpu).norm() / x_cpu.norm())
    assert rel < 1e-4, rel


def test_evaluate_on_cuda(cuda_run, tmp_path):
    res = evaluate_run(load_run(cuda_run, device="cuda"), steps=[4], samplers=["ddim"], out_dir=tmp_path, n=64)
    assert res["samplers"]["ddim"]["4"]["classifier_fd"] > 0


def test_distributional_model_trains_and_samples_on_cuda(tmp_path):
    _train(tmp_path, "digits-distributional.yaml", "method.m=3")
    run = load_run(tmp_path, device="cuda")
    x, nfe = generate(run, 16, steps=2, sampler="distributional", sampler_options={"churn": 1.0})
    assert nfe == 2 and torch.isfinite(x).all()
    # Generator noise ξ and churn come from per-sample CPU seeds: the CPU draws the same samples.
    x_cpu, nfe_cpu = generate(load_run(tmp_path), 16, steps=2, sampler="distributional", sampler_options={"churn": 1.0})
    assert nfe_cpu == nfe and x.device.type == "cpu"
    rel = float((x - x_cpu).norm() / x_cpu.norm())
    assert rel < 1e-4, rel


def test_dmz_model_trains_on_cuda_and_its_code_conditions_the_output(tmp_path):
    from difflab import dmz

    _train(tmp_path, "digits-dmz.yaml", "encoder.dim=8")
    run = load_run(tmp_path, device="cuda")
    x0 = torch.rand(4, 1, 8, 8) * 2 - 1
    z = dmz.encode(run, x0)
    assert z.shape == (4, 8) and set(z.unique().tolist()) <= {0.0, 1.0}
    a, _ = generate(run, 4, steps=4, cond={"z": torch.zeros(4, 8)})
    b, _ = generate(run, 4, steps=4, cond={"z": torch.ones(4, 8)})
    assert not torch.allclose(a, b)


def test_shortcut_reuse_on_cuda_saves_calls_and_stays_finite(cuda_run):
    run = load_run(cuda_run, device="cuda")
    group = deep_groups(run.denoiser.network.components())[-1]
    schedule = ShortcutSchedule([Shortcut(tuple(group), 0.0, 1.0, 2)])
    base, _ = generate(run, 16, steps=10)
    with shortcut_denoiser(run.denoiser, schedule) as fast:
        out, _ = generate(run, 16, steps=10, denoiser=fast)
    assert all(fast.sessions[0].served[c] == 5 for c in group)
    assert torch.isfinite(out).all() and not torch.equal(out, base)
