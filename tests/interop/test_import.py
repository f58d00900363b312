"""`difflab import` / load_run(DIR) on diffusers folders: round trip, legacy keys, bad input."""

from __future__ import annotations

import json

import pytest
import torch

from difflab.cli.main import main
from difflab.errors import DifflabError
from difflab.models import load_run
from difflab.pipeline.run import import_diffusers
from difflab.process.schedules.discrete import time_of

from .diffusers_cases import diffusers, save_pipeline, tiny_unet


@pytest.fixture(scope="module")
def pipe(tmp_path_factory):
    return save_pipeline(tmp_path_factory.mktemp("pipe") / "ddpm")


def test_import_writes_a_run_that_reloads_alone(pipe, tmp_path):
    saved = import_diffusers(pipe, tmp_path / "run")
    assert saved.parent.parent == tmp_path / "run" and (tmp_path / "run" / "config.yaml").is_file()
    loaded = load_run(tmp_path / "run")
    direct = load_run(pipe)  # the folder itself loads too
    unet = diffusers.UNet2DModel.from_pretrained(pipe / "unet").eval()
    x = torch.randn(3, 1, 8, 8)
    for k in (0, 1, 499, 999):
        t = time_of(torch.full((3,), k), 1000)
        with torch.no_grad():
            want = unet(x, k).sample  # epsilon: difflab's x̂₀ must come from exactly this ε
            a, s = loaded.denoiser.process.alpha_sigma(t[:1])
            x0 = (x.double() - s[0, 0] * want.double()) / a[0, 0]
            for run in (loaded, direct):
                got = run.denoiser(x, t)
                torch.testing.assert_close(got.double(), x0, rtol=1e-5, atol=1e-5)
    assert loaded.cfg.process.schedule == "discrete" and loaded.cfg.network.kind == "diffusers"
    assert loaded.normaliser.value_range == (-1.0, 1.0)
    assert loaded.cfg.sample.grid == "leading"  # DDPMScheduler's timestep_spacing: integer timesteps only


def test_network_sees_the_trained_timestep_not_an_off_by_one(pipe):
    seen = []
    run = load_run(pipe)
    run.denoiser.network.unet.register_forward_pre_hook(lambda m, a: seen.append(a[1].clone()))
    ks = torch.tensor([0, 1, 2, 500, 998, 999])
    run.denoiser(torch.zeros(6, 1, 8, 8), time_of(ks, 1000))
    assert torch.equal(seen[0], ks.float())  # t = (k + 1)/T feeds exactly k, never k ± 1


@pytest.mark.parametrize(
    ("ptype", "ours"), [("epsilon", "eps"), ("v_prediction", "v"), ("sample", "x0"), (None, "eps")]
)
def test_prediction_types_map_onto_x0(tmp_path, ptype, ours):
    kw = {} if ptype is None else {"prediction_type": ptype}
    pipe = save_pipeline(tmp_path / "p", **kw)
    run = load_run(pipe)
    assert run.cfg.method.prediction == ours
    sched = diffusers.DDPMScheduler.from_pretrained(pipe / "scheduler", clip_sample=False)  # x̂₀ unclipped
    unet = diffusers.UNet2DModel.from_pretrained(pipe / "unet").eval()
    x = torch.randn(2, 1, 8, 8)
    k = 700
    with torch.no_grad():
        # diffusers' own x̂₀ (DDPMScheduler.step's pred_original_sample) is the oracle
        want = sched.step(unet(x, k).sample, k, x).pred_original_sample
        got = run.denoiser(x, time_of(torch.full((2,), k), 1000))
    torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-4)


def test_legacy_scheduler_keys(tmp_path):
    pipe = save_pipeline(tmp_path / "p")
    cfg = pipe / "scheduler" / "scheduler_config.json"
    old = json.loads(cfg.read_text())
    for key in ("prediction_type", "timestep_spacing", "steps_offset"):
        old.pop(key, None)
    old.update(predict_epsilon=False, tensor_format="pt", timestep_values=None, _diffusers_version="0.1.1")
    cfg.write_text(json.dumps(old))
    assert load_run(pipe).cfg.method.prediction == "x0"  # predict_epsilon=False meant x₀ prediction


def test_legacy_attention_weight_names(tmp_path):
    pipe = save_pipeline(tmp_path / "p")
    f = pipe / "unet" / "diffusion_pytorch_model.safetensors"
    import safetensors.torch as st

    state = st.load_file(str(f))
    renamed = {}
    for k, v in state.items():  # diffusers < 0.14 names of the attention projections
        for new, old in (("to_q", "query"), ("to_k", "key"), ("to_v", "value"), ("to_out.0", "proj_attn")):
            if ".attentions." in k and f".{new}." in k:
                k = k.replace(f".{new}.", f".{old}.")
        renamed[k] = v
    assert renamed.keys() != state.keys()
    st.save_file(renamed, str(f))
    x = torch.randn(2, 1, 8, 8)
    t = torch.full((2,), 0.5)
    torch.testing.assert_close(load_run(pipe).denoiser(x, t), load_run(save_pipeline(tmp_path / "q")).denoiser(x, t))


def test_bare_model_folder_with_scheduler_config(tmp_path):
    unet = tiny_unet()
    unet.save_pretrained(tmp_path / "m")
    diffusers.DDIMScheduler(beta_schedule="squaredcos_cap_v2").save_pretrained(tmp_path / "m")
    run = load_run(tmp_path / "m")
    sched = diffusers.DDIMScheduler(beta_schedule="squaredcos_cap_v2")
    got = run.denoiser.process.schedule.alphas_cumprod()
    assert (got - sched.alphas_cumprod.double()).abs().max() < 1e-15


def test_class_conditional_unet(tmp_path):
    pipe = save_pipeline(tmp_path / "p", unet=tiny_unet(num_class_embeds=10))
    run = load_run(pipe)
    assert run.info.num_classes == 10 and run.cfg.network.class_conditional
    x, t = torch.randn(2, 1, 8, 8), torch.full((2,), 0.3)
    y = torch.tensor([3, 7])
    assert not torch.allclose(run.denoiser(x, t, labels=y), run.denoiser(x, t, labels=y.flip(0)))
    with pytest.raises(DifflabError, match="class-conditional: pass labels"):
        run.denoiser(x, t)


def _bad(tmp_path, capsys, folder, match):
    out = tmp_path / "out"
    assert main(["import", str(folder), "--out", str(out)]) != 0
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and match in err, err
    assert not out.exists() and not list(tmp_path.glob(".tmp_*"))


def test_bad_input_each_one_line_nothing_written(tmp_path, capsys):
    pipe = save_pipeline(tmp_path / "p")
    weights = pipe / "unet" / "diffusion_pytorch_model.safetensors"
    blob = weights.read_bytes()
    weights.unlink()
    _bad(tmp_path, capsys, pipe, "holds no weights")
    (pipe / "unet" / "diffusion_pytorch_model.bin").write_bytes(b"not unpickled")
    _bad(tmp_path, capsys, pipe, "only pickled weights")
    (pipe / "unet" / "diffusion_pytorch_model.bin").unlink()
    weights.write_bytes(blob)
    sched_file = pipe / "scheduler" / "scheduler_config.json"
    good = json.loads(sched_file.read_text())
    sched_file.write_text(json.dumps({**good, "_class_name": "ScoreSdeVeScheduler"}))
    _bad(tmp_path, capsys, pipe, "unsupported scheduler")
    sched_file.write_text(json.dumps({**good, "prediction_type": "flow"}))
    _bad(tmp_path, capsys, pipe, "unknown prediction_type")
    sched_file.write_text(json.dumps({**good, "beta_schedule": "sigmoid"}))
    _bad(tmp_path, capsys, pipe, "unknown beta_schedule")
    sched_file.write_text(json.dumps(good))
    unet_file = pipe / "unet" / "config.json"
    ucfg = json.loads(unet_file.read_text())
    unet_file.write_text(json.dumps({**ucfg, "_class_name": "UNet2DConditionModel"}))
    _bad(tmp_path, capsys, pipe, "unsupported model class")
    unet_file.write_text(json.dumps({**ucfg, "block_out_channels": [8, 24]}))
    _bad(tmp_path, capsys, pipe, "does not match its")
    unet_file.write_text(json.dumps(ucfg))
    _bad(tmp_path, capsys, tmp_path / "nowhere", "not found")
    assert main(["import", str(pipe), "--out", str(tmp_path / "ok")]) == 0


def test_import_refuses_an_existing_run(pipe, tmp_path, capsys):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "config.yaml").write_text("x: 1\n")
    assert main(["import", str(pipe), "--out", str(tmp_path / "run")]) != 0
    assert "not empty" in capsys.readouterr().err
    assert (tmp_path / "run" / "config.yaml").read_text() == "x: 1\n"


def test_data_option_uses_the_dataset_normaliser(tmp_path):
    pipe = save_pipeline(tmp_path / "p", unet=tiny_unet())
    with pytest.raises(DifflabError, match="model takes"):  # toy2d is (2,), the model (1, 8, 8)
        import_diffusers(pipe, tmp_path / "r", data="toy2d")
    assert not (tmp_path / "r").exists()
    import_diffusers(pipe, tmp_path / "d", data="digits")
    run = load_run(tmp_path / "d")
    assert run.info.name == "digits" and run.cfg.data.name == "digits"


@pytest.mark.parametrize(
    "scheduler, want",
    [
        ({}, {"clip_x0": 1.0, "dynamic_threshold": None}),  # DDPMScheduler clips by default
        ({"clip_sample": True, "clip_sample_range": 2.5}, {"clip_x0": 2.5, "dynamic_threshold": None}),
        ({"clip_sample": False}, {"clip_x0": None, "dynamic_threshold": None}),
        (
            {"clip_sample": False, "thresholding": True, "dynamic_thresholding_ratio": 0.9, "sample_max_value": 1.5},
            {"clip_x0": None, "dynamic_threshold": 0.9, "threshold_max": 1.5},
        ),
    ],
)
def test_scheduler_x0_processing_becomes_the_runs_sample_options(tmp_path, scheduler, want):
    """The imported scheduler's clip_sample / thresholding are what difflab's samplers apply by default."""
    run = load_run(save_pipeline(tmp_path / "p", **scheduler))
    for key, value in want.items():
        assert getattr(run.cfg.sample, key) == value, key
