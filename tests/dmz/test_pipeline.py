"""Coded runs through train_run / load_run / generate, the CLI, and the distributional + Haar path."""

import json

import pytest
import torch

from difflab import dmz
from difflab.cli.main import main as cli_main
from difflab.config import load_config
from difflab.config.schema import RunConfig
from difflab.dmz.codes import MARGINALS_NAME
from difflab.errors import DifflabError
from difflab.pipeline import generate, load_run, train_run
from difflab.pipeline.run import load_data

TINY = [
    "train.steps=3",
    "train.batch_size=16",
    "network.base_channels=16",
    "encoder.channels=[8,16]",
    "encoder.dim=8",
    "train.log_every=1",
]


@pytest.fixture(scope="module")
def dmz_run(tmp_path_factory):
    cfg = load_config(RunConfig, "configs/digits-dmz.yaml", TINY)
    return train_run(cfg, tmp_path_factory.mktemp("dmz") / "run", progress=False)


def test_save_load_round_trip_of_encoder_and_denoiser(dmz_run):
    a, b = load_run(dmz_run), load_run(dmz_run)
    assert isinstance(a.denoiser, dmz.CodedDenoiser)
    keys = a.denoiser.state_dict().keys()
    assert any(k.startswith("encoder.") for k in keys) and any(k.startswith("denoiser.network.") for k in keys)
    x = load_data(a.cfg).test[:6]
    t = torch.full((6,), 0.4)
    assert torch.equal(dmz.encode(a, x, hard=False), dmz.encode(b, x, hard=False))
    z = dmz.encode(a, x)
    with torch.no_grad():
        out_a, out_b = a.denoiser(x, t, z=z), b.denoiser(x, t, z=z)
        assert torch.equal(out_a, out_b)
        assert not torch.equal(out_a, a.denoiser(x, t, z=1 - z))  # the loaded network uses z
    stored = json.loads((a.path / MARGINALS_NAME).read_text())
    train = load_data(a.cfg).train
    # Trained on a GPU, the stored marginals come from GPU arithmetic: a bit on the boundary may flip on the CPU.
    assert torch.allclose(torch.tensor(stored["marginals"]), dmz.encode(a, train).mean(0), atol=2.5 / len(train))


def test_export_keeps_encoder_and_code_marginals(dmz_run, tmp_path):
    from difflab.pipeline.run import export_run

    saved = export_run(dmz_run, tmp_path / "slim")
    full, slim = load_run(dmz_run), load_run(tmp_path / "slim")
    assert (saved / MARGINALS_NAME).read_text() == (full.path / MARGINALS_NAME).read_text()
    z = dmz.sample_codes(slim, 8, source="marginal")
    assert torch.equal(z, dmz.sample_codes(full, 8, source="marginal"))
    assert torch.equal(generate(full, 4, steps=3)[0], generate(slim, 4, steps=3)[0])


def test_generate_draws_seeded_fair_bits_by_default_and_takes_z(dmz_run):
    run = load_run(dmz_run)
    s1, _ = generate(run, 4, steps=2)
    s2, _ = generate(run, 4, steps=2)
    assert torch.equal(s1, s2)
    z = dmz.sample_codes(run, 4)
    assert torch.equal(generate(run, 4, steps=2, cond={"z": z})[0], s1)  # the default is sample_codes' fair bits
    assert not torch.equal(generate(run, 4, steps=2, cond={"z": 1 - z})[0], s1)
    assert torch.equal(dmz.sample_codes(run, 6)[:4], z)  # code i depends on (seed, i) only
    assert set(dmz.sample_codes(run, 8, source="marginal").unique().tolist()) <= {0.0, 1.0}
    with pytest.raises(DifflabError, match="fit-prior"):  # binary: "prior" is the learned prior, not fitted yet
        dmz.sample_codes(run, 2, source="prior")
    with pytest.raises(DifflabError, match="does not fit"):
        dmz.sample_codes(run, 2, source="gaussian")


def test_reconstruct_and_interpolate_cli(dmz_run, tmp_path):
    out = tmp_path / "rec.png"
    assert cli_main(["reconstruct", str(dmz_run), "--n", "4", "--steps", "2", "--out", str(out)]) == 0
    assert out.stat().st_size > 0
    out = tmp_path / "interp.png"
    assert (
        cli_main(["interpolate", str(dmz_run), "--pairs", "1", "--frames", "3", "--steps", "2", "--out", str(out)]) == 0
    )
    assert out.stat().st_size > 0


def test_plain_runs_are_rejected_by_dmz_tools(tmp_path):
    cfg = load_config(
        RunConfig, "configs/digits.yaml", ["train.steps=1", "train.batch_size=8", "network.base_channels=16"]
    )
    run = load_run(train_run(cfg, tmp_path / "plain", progress=False))
    assert not isinstance(run.denoiser, dmz.CodedDenoiser)
    with pytest.raises(DifflabError, match="not a coded"):
        dmz.encode(run, load_data(cfg).test[:2])


def test_dmz_haar_distributional_and_drl_tiny_runs_train_and_sample(tmp_path):
    cfg = load_config(RunConfig, "configs/digits-dmz-haar-distributional.yaml", TINY + ["method.m=2"])
    run = load_run(train_run(cfg, tmp_path / "dist", progress=False))
    x, nfe = generate(run, 3, steps=2, sampler="distributional")
    assert x.shape == (3, 1, 8, 8) and torch.isfinite(x).all() and nfe == 2
    cfg = load_config(RunConfig, "configs/digits-dmz.yaml", TINY + ["encoder.kind=drl", "encoder.z_mode=time"])
    run = load_run(train_run(cfg, tmp_path / "drl", progress=False))
    data = load_data(cfg).test[:3]
    c1, c2 = dmz.encode(run, data, t=0.1), dmz.encode(run, data, t=torch.full((3,), 0.9))
    assert c1.shape == (3, 8) and not torch.equal(c1, c2)
    assert dmz.reconstruct(run, data, steps=2, mode="inverted").shape == data.shape
