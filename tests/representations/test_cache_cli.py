"""Cache round trip and reuse; the encoder sources' wiring; the two CLI commands end to end."""

import json

import pytest
import torch

import difflab.representations.downstream as rep_mod
from difflab.cli.main import main
from difflab.errors import DifflabError
from difflab.representations import load_trajectories, represent


def test_cache_hit_returns_identical_tensors(tiny_run, tmp_path, monkeypatch):
    first = represent(tiny_run, times=[0.2, 0.7], out=tmp_path / "c", batch_size=512)
    assert first.train.shape[:2] == (1437, 2) and first.test.shape[:2] == (360, 2)

    def boom(*a, **k):
        raise AssertionError("cache miss: extraction ran again")

    monkeypatch.setattr(rep_mod, "extract_trajectory", boom)
    again = represent(tiny_run, times=[0.2, 0.7], out=tmp_path / "c")
    for name in ("train", "train_labels", "test", "test_labels"):
        assert torch.equal(getattr(first, name), getattr(again, name))
    with pytest.raises(AssertionError, match="cache miss"):  # another key (times) must not reuse the cache
        represent(tiny_run, times=[0.2, 0.8], out=tmp_path / "c")
    assert load_trajectories(tmp_path / "c", {"other": 1}) is None


def test_noisy_inputs_change_only_the_test_split(tiny_run):
    clean = represent(tiny_run, times=[0.3], batch_size=512)
    noisy = represent(tiny_run, times=[0.3], noise_std=0.5, batch_size=512)
    assert torch.equal(clean.train, noisy.train)
    assert not torch.allclose(clean.test, noisy.test)


def test_encoder_sources_call_dmz_encode(tiny_run, monkeypatch):
    calls = []

    def encode(run, x0, t=None, *, hard=True):
        calls.append(None if t is None else t.clone())
        base = x0.flatten(1)[:, :3]
        return base if t is None else base * (1 + t[:, None])

    from difflab.representations import sources

    monkeypatch.setattr(sources, "encode_codes", encode)  # the encoder sources' one call into the coded model
    drl = represent(tiny_run, times=[0.0, 0.5, 1.0], source="drl", batch_size=512)
    assert drl.train.shape[1:] == (3, 3)
    torch.testing.assert_close(drl.train[:, 2], 2 * drl.train[:, 0])
    dmz = represent(tiny_run, times=[0.0, 0.5, 1.0], source="dmz", batch_size=512)
    assert dmz.train.shape[1:] == (1, 3) and calls[-1] is None
    with pytest.raises(DifflabError, match="components"):
        represent(tiny_run, times=[0.5], source="drl", components=["mid.res.1"])


def test_cli_represent_then_probe(tiny_run_dir, tmp_path, capsys):
    out = tmp_path / "rep"
    assert main(["represent", str(tiny_run_dir), "--times", "2", "--components", "mid.res.1", "--out", str(out)]) == 0
    quick = ["--protocol", "quick", "--mixer", "single,gru", "--seeds", "2", "--epochs", "3"]
    assert main(["probe", str(out), *quick]) == 0
    result = json.loads((out / "probe.json").read_text())
    assert len(result["single"]["single"]) == 3 and len(result["mixers"]["gru"]["runs"]) == 2
    assert result["protocol"]["name"] == "quick" and result["mixers"]["gru"]["lr"] == 1e-3
    assert (out / "probe_acc_vs_t.png").stat().st_size > 1000
    assert "gru:" in capsys.readouterr().out
    assert main(["probe", str(tmp_path / "nothing"), "--seeds", "1"]) == 2


def test_cli_probe_default_is_the_paper_protocol_with_its_sweep(tiny_run_dir, tmp_path, capsys):
    out = tmp_path / "rep"
    assert main(["represent", str(tiny_run_dir), "--times", "0.2,0.8", "--out", str(out)]) == 0
    argv = ["probe", str(out), "--mixer", "attention", "--seeds", "1", "--epochs", "2", "--width", "16"]
    assert main([*argv, "--lr", "1e-3,1e-4"]) == 0
    result = json.loads((out / "probe.json").read_text())
    proto, att = result["protocol"], result["mixers"]["attention"]
    assert proto["name"] == "paper" and proto["batch_size"] == 256 and proto["grad_clip"] == 1.0
    assert proto["patience"] is None and proto["dropout"] == 0.25 and not proto["standardise"]
    assert set(att["val_by_lr"]) == {"0.001", "0.0001"} and att["lr"] in (1e-3, 1e-4)
    assert main([*argv, "--lr", "0,1e-3"]) == 2 and "positive learning rates" in capsys.readouterr().err
