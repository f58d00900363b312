"""Tiny end-to-end runs: train a distributional model, sample it from Python and from the CLI."""

import json

import numpy as np
import pytest
import torch

from difflab.cli.main import main
from difflab.config import load_config
from difflab.config.schema import RunConfig
from difflab.pipeline import generate, load_run, train_run

TINY = {
    "toy2d": [
        "network.hidden=32",
        "network.depth=2",
        "train.batch_size=32",
        "method.m=4",
        "method.noise_injection=gated",
    ],
    "digits": ["network.base_channels=8", "network.attention_levels=[]", "train.batch_size=8", "method.m=2"],
}


@pytest.fixture(scope="module", params=sorted(TINY))
def trained(request, tmp_path_factory):
    name = request.param
    cfg = load_config(
        RunConfig,
        f"configs/{name}-distributional.yaml",
        ["train.steps=4", "train.checkpoint_every=4", "train.warmup_steps=1", *TINY[name]],
    )
    out = tmp_path_factory.mktemp(name)
    train_run(cfg, out, progress=False)
    return name, out


def test_trained_generator_samples_are_finite_and_stochastic(trained):
    _, out = trained
    run = load_run(out)
    assert run.denoiser.generator_noise
    a, nfe = generate(run, 16, steps=2, sampler="distributional", seed=0, sampler_options={"churn": 0.5})
    b, _ = generate(run, 16, steps=2, sampler="distributional", seed=1, sampler_options={"churn": 0.5})
    again, _ = generate(run, 16, steps=2, sampler="distributional", seed=0, sampler_options={"churn": 0.5})
    assert nfe == 2 and torch.isfinite(a).all()
    assert not torch.equal(a, b)
    torch.testing.assert_close(a, again)


def test_cli_sample_and_evaluate_take_the_churn(trained, tmp_path, capsys):
    name, out = trained
    npy = tmp_path / "s.npy"
    assert (
        main(
            [
                "sample",
                str(out),
                "--n",
                "8",
                "--steps",
                "2",
                "--sampler",
                "distributional",
                "--churn",
                "1.0",
                "--out",
                str(npy),
            ]
        )
        == 0
    )
    assert np.isfinite(np.load(npy)).all() and np.load(npy).shape[0] == 8
    assert main(["sample", str(out), "--n", "4", "--sampler", "distributional", "--churn", "2", "--out", str(npy)]) == 2
    assert "churn" in capsys.readouterr().err
    if name == "toy2d":  # one evaluate run is enough (metrics are slow on images)
        assert (
            main(
                [
                    "evaluate",
                    str(out),
                    "--steps",
                    "1,2",
                    "--sampler",
                    "distributional",
                    "--churn",
                    "0.5",
                    "--n",
                    "64",
                    "--out",
                    str(tmp_path / "eval"),
                ]
            )
            == 0
        )
        res = json.loads((tmp_path / "eval" / "metrics.json").read_text())
        assert set(res["samplers"]["distributional"]) == {"1", "2"}
