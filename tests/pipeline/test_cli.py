"""The CLI: commands write what they promise; bad input gives one line and a non-zero exit."""

import json
from pathlib import Path

import numpy as np
import pytest

from difflab.cli.main import main
from difflab.io import latest_checkpoint
from difflab.pipeline.run import CKPT_DIR
from tests.helpers import ROOT, TINY

CONFIG = str(ROOT / "configs" / "digits.yaml")


def run_cli(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(code, err, *needles):
    assert code == 2
    lines = [line for line in err.strip().splitlines() if line]
    assert len(lines) == 1 and lines[0].startswith("difflab: error:"), err
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])


def test_every_command_module_exposes_the_command_contract():
    """Each ``cli/cmd_*.py`` is a command: ``HELP`` (one line), ``add_arguments(parser)`` and ``run(args)``."""
    import importlib
    import inspect

    import difflab.cli
    from difflab.cli.main import command_names

    files = sorted(p.stem[4:] for p in Path(difflab.cli.__file__).parent.glob("cmd_*.py"))
    assert files and sorted(command_names()) == files
    for name in files:
        module = importlib.import_module(f"difflab.cli.cmd_{name}")
        assert isinstance(module.HELP, str) and module.HELP.strip() and "\n" not in module.HELP, name
        assert module.__doc__, name
        assert callable(module.add_arguments) and len(inspect.signature(module.add_arguments).parameters) == 1, name
        assert callable(module.run) and len(inspect.signature(module.run).parameters) == 1, name


def test_help_of_every_command(capsys):
    from difflab.cli.main import command_names

    for name in command_names():
        with pytest.raises(SystemExit) as exc:
            main([name.replace("_", "-"), "--help"])
        assert exc.value.code == 0
        assert "usage" in capsys.readouterr().out


def test_dry_run_prints_resolved_config(capsys):
    code, out, _ = run_cli(capsys, "train", CONFIG, "train.lr=0.01", "process.basis=dct", "--dry-run")
    assert code == 0
    assert "lr: 0.01" in out and "basis: dct" in out
    # overrides may also follow options
    code, out, _ = run_cli(capsys, "train", CONFIG, "--dry-run", "train.lr=0.02", "--out", "x", "process.basis=haar")
    assert code == 0 and "lr: 0.02" in out and "basis: haar" in out
    with pytest.raises(SystemExit) as exc:
        main(["train", CONFIG, "--dry-run", "--bogus"])
    assert exc.value.code == 2 and "unrecognized arguments: --bogus" in capsys.readouterr().err


def test_sample_npy_keeps_data_shape_and_range(capsys, tiny_run, tmp_path):
    out = tmp_path / "s.npy"
    code, stdout, _ = run_cli(
        capsys, "sample", tiny_run, "--n", 5, "--steps", 3, "--sampler", "ddim", "--seed", 1, "--out", out
    )
    assert code == 0 and str(out) in stdout
    x = np.load(out)
    assert x.shape == (5, 1, 8, 8) and x.min() >= 0.0 and x.max() <= 16.0


def test_sample_png_and_evaluate(capsys, tiny_run, tmp_path):
    code, _, _ = run_cli(capsys, "sample", tiny_run, "--n", 4, "--steps", 2, "--out", tmp_path / "g.png")
    assert code == 0 and (tmp_path / "g.png").stat().st_size > 0
    code, out, _ = run_cli(
        capsys,
        "evaluate",
        tiny_run,
        "--steps",
        "2,4",
        "--sampler",
        "ddim,heun",
        "--n",
        64,
        "--out",
        tmp_path / "eval",
        "--bpd",
        2,
    )
    assert code == 0 and "classifier_fd" in out
    metrics = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    assert set(metrics["samplers"]) == {"ddim", "heun"} and set(metrics["samplers"]["ddim"]) == {"2", "4"}
    assert metrics["samplers"]["heun"]["2"]["nfe"] == 3  # Heun: 2 calls per step, Euler on the last
    assert (tmp_path / "eval" / "quality_vs_steps.png").is_file()
    assert metrics["bits_per_dim"]["n"] == 2 and metrics["bits_per_dim"]["bits_per_dim"] > 0 and "bits/dim" in out


@pytest.mark.parametrize(
    ("argv", "needles"),
    [
        (["train", "missing.yaml", "--out", "{tmp}/r"], ["config file not found"]),
        (["train", CONFIG, "train.lrr=1", "--out", "{tmp}/r"], ["train.lrr"]),
        (["train", CONFIG, "train.steps=abc", "--out", "{tmp}/r"], ["train.steps"]),
        (["train", CONFIG, "process.basis=wavelet", "--out", "{tmp}/r"], ["process.basis"]),
        (["train", CONFIG, "data.name=imagenet", "--out", "{tmp}/r"], ["imagenet"]),
        (["train", CONFIG, "process.basis=haar", "process.levels=4", "--out", "{tmp}/r"], ["8"]),
        (["train", CONFIG, "network.channel_mults=[1,2,2,2,2]", "--out", "{tmp}/r"], ["8"]),
        (["train", CONFIG, "network.kind=mlp", "--out", "{tmp}/r"], ["mlp"]),
        (["sample", "{tmp}/nope", "--out", "{tmp}/x.npy"], ["run not found"]),
        (["sample", "{run}", "--sampler", "magic", "--out", "{tmp}/x.npy"], ["magic"]),
        (["sample", "{run}", "--out", "{tmp}/x.jpg"], [".npy or .png"]),
    ],
)
def test_bad_input_is_one_clear_line(capsys, tmp_path, tiny_run, argv, needles):
    argv = [a.format(tmp=tmp_path, run=tiny_run) for a in argv]
    code, _, err = run_cli(capsys, *argv)
    assert_one_line_error(code, err, *needles)
    assert not (tmp_path / "r" / "checkpoints").exists()
    assert not (tmp_path / "x.npy").exists()


def _npy_config(tmp_path, array, name="bad.npy") -> list[str]:
    path = tmp_path / name
    np.save(path, array)
    return ["train", CONFIG, "data.name=npy", f"data.options={{path: {path}}}", *TINY, "--out", tmp_path / "r"]


@pytest.mark.parametrize(
    ("array", "needles"),
    [
        (np.full((20, 8, 8), np.nan, dtype=np.float32), ["NaN"]),
        (np.zeros((20, 2, 2, 8, 8), dtype=np.float32), ["(20, 2, 2, 8, 8)", "expected"]),
        (np.zeros((0, 8, 8), dtype=np.float32), ["empty"]),
        (np.random.default_rng(0).random((20, 9, 9)).astype(np.float32), ["9x9"]),
    ],
)
def test_bad_data_is_one_clear_line(capsys, tmp_path, array, needles):
    code, _, err = run_cli(capsys, *_npy_config(tmp_path, array))
    assert_one_line_error(code, err, *needles)
    assert not (tmp_path / "r" / "checkpoints").exists()


def test_missing_and_corrupt_data_files(capsys, tmp_path):
    argv = ["train", CONFIG, "data.name=npy", f"data.options={{path: {tmp_path}/none.npy}}", "--out", tmp_path / "r"]
    code, _, err = run_cli(capsys, *argv)
    assert_one_line_error(code, err, "none.npy")
    (tmp_path / "junk.npy").write_bytes(b"not an array")
    argv[3] = f"data.options={{path: {tmp_path}/junk.npy}}"
    code, _, err = run_cli(capsys, *argv)
    assert_one_line_error(code, err, "junk.npy")


def test_corrupt_and_mismatched_checkpoints(capsys, tmp_path, tiny_run):
    import shutil

    bad = tmp_path / "bad"
    shutil.copytree(tiny_run, bad)
    ckpt = latest_checkpoint(bad / CKPT_DIR)
    data = bytearray((ckpt / "model.safetensors").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (ckpt / "model.safetensors").write_bytes(bytes(data))
    code, _, err = run_cli(capsys, "sample", ckpt, "--out", tmp_path / "x.npy")
    assert_one_line_error(code, err, "corrupt")

    other = tmp_path / "other"
    shutil.copytree(tiny_run, other)
    ckpt = latest_checkpoint(other / CKPT_DIR)
    cfg = (ckpt / "config.yaml").read_text().replace("base_channels: 16", "base_channels: 24")
    meta = json.loads((ckpt / "meta.json").read_text())
    (ckpt / "config.yaml").write_text(cfg)
    meta["files"].pop("config.yaml")  # a hand-edited config: skip its checksum, keep the weights check
    (ckpt / "meta.json").write_text(json.dumps(meta))
    code, _, err = run_cli(capsys, "sample", ckpt, "--out", tmp_path / "x.npy")
    assert_one_line_error(code, err, "does not match")


def test_ctrl_c_saves_a_checkpoint_and_resumes(capsys, tmp_path, monkeypatch):
    import os
    import signal

    from difflab.utils.faults import set_fault_hook

    def ctrl_c_in_step_5(name, info):  # mid-step: the step completes, then the run stops
        if name == "step:after_backward" and info["trainer"].step == 4:
            os.kill(os.getpid(), signal.SIGINT)

    previous = set_fault_hook(ctrl_c_in_step_5)
    try:
        out = tmp_path / "r"
        code, _, err = run_cli(
            capsys, "train", CONFIG, *TINY, "train.checkpoint_every=100", "--no-progress", "--out", out
        )
    finally:
        set_fault_hook(previous)
    assert code == 130 and "SIGINT after step 5" in err
    assert latest_checkpoint(out / CKPT_DIR).name == "step_000005"
    assert not [p for p in (out / CKPT_DIR).iterdir() if p.name.startswith(".tmp")]
    code, _, _ = run_cli(capsys, "train", CONFIG, *TINY, "train.checkpoint_every=100", "--no-progress", "--out", out)
    assert code == 0 and latest_checkpoint(out / CKPT_DIR).name == "step_000012"


def test_out_dir_with_a_different_run_is_refused(capsys, tiny_run):
    code, _, err = run_cli(capsys, "train", CONFIG, *TINY, "network.base_channels=24", "--out", tiny_run)
    assert_one_line_error(code, err, "different config")


def test_sampler_options_go_to_their_sampler(capsys, tiny_run, tmp_path):
    code, _, err = run_cli(
        capsys, "sample", tiny_run, "--sampler", "ddim", "--churn", "0.5", "--out", tmp_path / "x.npy"
    )
    assert_one_line_error(code, err, "--churn", "distributional")
    code, _, _ = run_cli(
        capsys,
        "sample",
        tiny_run,
        "--sampler",
        "ddim",
        "--eta",
        "0.5",
        "--n",
        2,
        "--steps",
        2,
        "--out",
        tmp_path / "y.npy",
    )
    assert code == 0 and np.load(tmp_path / "y.npy").shape == (2, 1, 8, 8)


def test_sample_eta_and_churn_in_the_config_are_the_defaults_of_their_samplers(capsys, tiny_run, tmp_path, monkeypatch):
    import argparse
    import dataclasses

    import difflab.pipeline
    from difflab.cli.common import sampler_options
    from difflab.config.schema import SampleConfig

    none = argparse.Namespace(eta=None, churn=None)
    cfg = SampleConfig(eta=0.3, churn=0.7)
    assert sampler_options(none, ["ddim", "heun", "distributional"], cfg) == {
        "ddim": {"eta": 0.3},
        "heun": {"heun_form": "exponential", "s_churn": 0.0, "s_tmin": 0.0, "s_tmax": float("inf"), "s_noise": 1.0},
        "distributional": {"churn": 0.7},
    }
    flag = argparse.Namespace(eta=0.9, churn=None)
    assert sampler_options(flag, ["ddim"], cfg) == {"ddim": {"eta": 0.9}}  # the flag wins over the config
    assert sampler_options(none, ["ddim"]) == {"ddim": {}}  # no config: the sampler's own defaults

    # End to end: a run whose config says sample.eta=0.5 samples as `--eta 0.5` does.
    real_load_run = difflab.pipeline.load_run

    def load_with_eta(path, **kwargs):
        loaded = real_load_run(path, **kwargs)
        loaded.cfg.sample = dataclasses.replace(loaded.cfg.sample, eta=0.5)
        return loaded

    args = ("--sampler", "ddim", "--n", 2, "--steps", 3, "--seed", 4)
    assert run_cli(capsys, "sample", tiny_run, *args, "--eta", "0.5", "--out", tmp_path / "flag.npy")[0] == 0
    assert run_cli(capsys, "sample", tiny_run, *args, "--out", tmp_path / "plain.npy")[0] == 0
    monkeypatch.setattr(difflab.pipeline, "load_run", load_with_eta)
    assert run_cli(capsys, "sample", tiny_run, *args, "--out", tmp_path / "config.npy")[0] == 0
    flag, plain, config = (np.load(tmp_path / f"{n}.npy") for n in ("flag", "plain", "config"))
    assert np.array_equal(config, flag) and not np.array_equal(config, plain)


def test_likelihood_writes_bits_per_dim(capsys, tiny_run, tmp_path):
    out = tmp_path / "lik.json"
    code, text, _ = run_cli(capsys, "likelihood", tiny_run, "--n", 3, "--rtol", "1e-3", "--out", out)
    assert code == 0 and "bits/dim" in text
    result = json.loads(out.read_text())
    assert result["n"] == 3 and result["divergence"] == "exact" and len(result["per_sample"]) == 3
    assert result["dequantisation"].startswith("uniform")  # digits: integer levels, step 1
    assert 0 < result["bits_per_dim"] < 20 and result["probe_se"] == 0
    code, _, _ = run_cli(
        capsys,
        "likelihood",
        tiny_run,
        "--n",
        2,
        "--rtol",
        "1e-3",
        "--divergence",
        "hutchinson",
        "--probes",
        2,
        "--dequantise",
        "none",
        "--out",
        out,
    )
    result = json.loads(out.read_text())
    assert code == 0 and result["probe_se"] > 0 and result["dequantisation"].startswith("none")
    with pytest.raises(SystemExit) as exc:  # argparse refuses --n 0 like every command (positive_int)
        main(["likelihood", str(tiny_run), "--n", "0"])
    assert exc.value.code == 2 and "positive integer" in capsys.readouterr().err
