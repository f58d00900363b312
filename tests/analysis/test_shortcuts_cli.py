"""`difflab ablate`, `difflab shortcuts`, and `--shortcuts FILE` on sample / evaluate, on a tiny trained run."""

import json

import numpy as np
import pytest

from difflab.cli.main import main
from difflab.config import load_config
from difflab.config.schema import RunConfig
from difflab.pipeline import train_run


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    cfg = load_config(
        RunConfig,
        "configs/digits.yaml",
        [
            "train.steps=3",
            "train.batch_size=16",
            "network.base_channels=8",
            "train.checkpoint_every=3",
            "train.log_every=3",
        ],
    )
    return train_run(cfg, tmp_path_factory.mktemp("tiny_temporal"), progress=False)


def test_ablate_shortcuts_and_apply(run_dir, tmp_path, capsys):
    out = tmp_path / "ablate"
    assert main(["ablate", str(run_dir), "--steps", "4", "--windows", "2", "--n", "8", "--out", str(out)]) == 0
    impact = json.loads((out / "impact.json").read_text())
    assert len(impact["windows"]) == 2 and "mid" in impact["units"]
    assert all("label_change" in m[0] for m in impact["metrics"].values())
    assert (out / "heatmap.png").stat().st_size > 0 and (out / "phase.png").is_file()
    assert "Per unit" in (out / "report.md").read_text()

    sched = tmp_path / "s.json"
    assert (
        main(
            [
                "shortcuts",
                str(run_dir),
                "--impact",
                str(out / "impact.json"),
                "--budget",
                "10",
                "--periods",
                "2",
                "--repeats",
                "1",
                "--out",
                str(sched),
            ]
        )
        == 0
    )
    data = json.loads(sched.read_text())
    assert data["shortcuts"] and data["meta"]["measured"]["fd_shift"] <= 10 and data["meta"]["measured"]["speedup"] > 0

    a, b, c = (tmp_path / f"{k}.npy" for k in "abc")
    assert main(["sample", str(run_dir), "--n", "4", "--steps", "6", "--sampler", "ddim", "--out", str(a)]) == 0
    assert (
        main(
            [
                "sample",
                str(run_dir),
                "--n",
                "4",
                "--steps",
                "6",
                "--sampler",
                "ddim",
                "--out",
                str(b),
                "--shortcuts",
                str(sched),
            ]
        )
        == 0
    )
    assert not np.array_equal(np.load(a), np.load(b))
    empty = tmp_path / "empty.json"
    empty.write_text(json.dumps({"version": 1, "shortcuts": []}))
    assert (
        main(
            [
                "sample",
                str(run_dir),
                "--n",
                "4",
                "--steps",
                "6",
                "--sampler",
                "ddim",
                "--out",
                str(c),
                "--shortcuts",
                str(empty),
            ]
        )
        == 0
    )
    assert np.array_equal(np.load(a), np.load(c))


def test_unknown_component_in_schedule_is_a_cli_error(run_dir, tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text(
        json.dumps({"version": 1, "shortcuts": [{"components": ["mid.atten"], "t_lo": 0, "t_hi": 1, "period": 2}]})
    )
    assert (
        main(
            [
                "sample",
                str(run_dir),
                "--n",
                "2",
                "--steps",
                "4",
                "--out",
                str(tmp_path / "x.npy"),
                "--shortcuts",
                str(bad),
            ]
        )
        == 2
    )
    assert "unknown component 'mid.atten'" in capsys.readouterr().err


def test_removal_shortcuts_from_a_ddpm_bypass_map_with_separate_report(run_dir, tmp_path, capsys):
    out = tmp_path / "ablate"
    args = ["ablate", str(run_dir), "--steps", "3", "--windows", "1", "--n", "4", "--out", str(out)]
    assert main([*args, "--removal", "bypass", "--sampler", "ddpm"]) == 0
    impact = json.loads((out / "impact.json").read_text())
    assert impact["removal"] == "bypass" and impact["sampler"] == "ddpm" and "down.0.downsample" not in impact["units"]
    sched = tmp_path / "s.json"
    common = ["shortcuts", str(run_dir), "--impact", str(out / "impact.json"), "--repeats", "1", "--out", str(sched)]
    assert main([*common, "--budget", "100", "--mechanism", "removal", "--report-sets", "2"]) == 0
    data = json.loads(sched.read_text())
    assert data["shortcuts"] and all(s["mechanism"] == "skip" for s in data["shortcuts"])
    report = data["meta"]["report"]
    assert report["seeds"] == [1000, 1001] and len(report["fd_shift"]) == 2
    assert "separate sets" in capsys.readouterr().out
    assert main([*common, "--report-sets", "1"]) == 2
    assert "--report-sets" in capsys.readouterr().err
    zero = tmp_path / "zero.json"  # the same map declared a zero-removal map: the removal search refuses it
    zero.write_text(json.dumps({**impact, "removal": "zero"}))
    zargs = ["shortcuts", str(run_dir), "--impact", str(zero), "--mechanism", "removal"]
    assert main([*zargs, "--out", str(tmp_path / "z.json")]) == 2
    assert "bypass impact map" in capsys.readouterr().err and not (tmp_path / "z.json").exists()
