"""`difflab evaluate --fid` and evaluate_run(fid=...): with a tiny stand-in extractor, and without weights."""

import json

import numpy as np
import pytest
import torch

from difflab.metrics import fid as fidmod
from tests.metrics.test_fid import stand_in


@pytest.fixture
def no_weights(monkeypatch, tmp_path):
    monkeypatch.delenv(fidmod.WEIGHTS_ENV, raising=False)
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))


def test_evaluate_run_adds_fid_kid_to_floor_and_settings_and_reuses_the_cache(tiny_run, tmp_path):
    from difflab.pipeline import evaluate_run, load_run

    run = load_run(tiny_run)
    kw = dict(steps=[2], samplers=["ddim"], n=16, fid=stand_in(), fid_cache=tmp_path / "cache")
    first = evaluate_run(run, out_dir=tmp_path / "a", **kw)
    assert first["fid"]["features"] == "stand-in" and first["fid"]["cached"] is False
    assert first["fid"]["reference"] == "digits-test" and first["fid"]["reference_n"] == 360
    for scores in (first["floor"], first["samplers"]["ddim"]["2"]):
        assert scores["fid"] >= 0 and np.isfinite(scores["kid"]) and scores["kid_std"] >= 0
    assert first["samplers"]["ddim"]["2"]["fid"] > first["floor"]["fid"]  # 2-step samples vs real digits
    second = evaluate_run(run, out_dir=tmp_path / "b", **kw)
    assert second["fid"]["cached"] is True
    assert second["floor"]["fid"] == pytest.approx(first["floor"]["fid"], rel=1e-5)
    assert json.loads((tmp_path / "b" / "metrics.json").read_text())["fid"]["cached"] is True


def test_cli_fid_without_weights_is_one_line_and_writes_nothing(tiny_run, tmp_path, no_weights, capsys):
    from difflab.cli.main import main

    code = main(["evaluate", str(tiny_run), "--fid", "--steps", "2", "--out", str(tmp_path / "eval")])
    err = capsys.readouterr().err
    lines = [line for line in err.strip().splitlines() if line]
    assert code == 2 and len(lines) == 1 and lines[0].startswith("difflab: error:")
    assert "pip install 'difflab[fid]'" in lines[0] or "--inception-weights" in lines[0]
    assert not (tmp_path / "eval").exists()
