"""Domain transfer through codes: a known code map is learned exactly, chosen on validation pairs, stored safely."""

import json

import pytest
import torch

from difflab.config import load_config
from difflab.config.schema import RunConfig
from difflab.dmz.transfer import (
    MAP_JSON,
    CodeMap,
    code_agreement,
    fit_code_map,
    fit_transfer,
    load_code_map,
    paired_codes,
    save_code_map,
    select_code_map,
    transfer,
)
from difflab.errors import DifflabError
from difflab.pipeline import load_run, train_run
from difflab.pipeline.run import load_data
from tests.helpers import ROOT

TINY = ["train.steps=2", "train.batch_size=16", "network.base_channels=16", "encoder.channels=[8,16]", "encoder.dim=6"]


def _permuted_and_flipped(codes: torch.Tensor) -> torch.Tensor:
    """A known map: target bit j = source bit perm[j], negated where neg[j] (a bijection of codes)."""
    perm = torch.tensor([3, 0, 7, 1, 9, 2, 8, 5, 4, 6])
    neg = torch.tensor([1, 0, 0, 1, 0, 1, 0, 0, 1, 0], dtype=torch.bool)
    out = codes[:, perm]
    return torch.where(neg, 1 - out, out)


def test_a_bit_permutation_with_negations_is_learned_exactly():
    g = torch.Generator().manual_seed(0)
    src = (torch.rand(1200, 10, generator=g) < 0.5).float()
    model, stats = select_code_map(src, _permuted_and_flipped(src), sizes=[(), (32,)], epochs=60, lr=1e-2, seed=0)
    assert stats["code_accuracy_val"] == 1.0
    fresh = (torch.rand(4000, 10, generator=torch.Generator().manual_seed(1)) < 0.5).float()
    assert code_agreement(model.transfer(fresh), _permuted_and_flipped(fresh))["code_accuracy"] == 1.0


def test_the_size_is_chosen_by_validation_bce_and_every_candidate_is_reported():
    g = torch.Generator().manual_seed(0)
    src = (torch.rand(600, 4, generator=g) < 0.5).float()
    tgt = (src[:, :1] != src[:, 1:2]).float().repeat(1, 3)  # XOR: no linear map fits it
    model, stats = select_code_map(src, tgt, sizes=[(), (32,)], epochs=80, lr=1e-2, seed=0)
    linear, mlp = stats["candidates"]
    assert linear["hidden"] == [] and mlp["hidden"] == [32]
    assert mlp["bce_val"] < linear["bce_val"] and model.hidden == (32,)
    assert stats["n_val"] == 120 and stats["n_fit"] == 480  # 20 % of the pairs carved off for the choice
    assert linear["code_accuracy_val"] < 0.9 <= mlp["code_accuracy_val"]


def test_save_and_load_give_the_same_map_and_a_mismatch_is_refused(tmp_path):
    torch.manual_seed(0)
    model = CodeMap(5, 3, (7,))
    save_code_map(tmp_path, model, {"note": 1})
    back, stats = load_code_map(tmp_path)
    z = torch.rand(4, 5)
    assert torch.equal(back(z), model(z)) and stats == {"note": 1} and back.hidden == (7,)
    record = json.loads((tmp_path / MAP_JSON).read_text())
    record["model"]["hidden"] = [8]
    (tmp_path / MAP_JSON).write_text(json.dumps(record))
    with pytest.raises(DifflabError, match="does not match"):
        load_code_map(tmp_path)
    with pytest.raises(DifflabError, match="has no code map"):
        load_code_map(tmp_path / "absent")


def test_unpaired_codes_are_refused():
    with pytest.raises(DifflabError, match="paired codes"):
        fit_code_map(torch.zeros(5, 3), torch.zeros(4, 2))


def test_transfer_between_two_tiny_runs_on_paired_digit_views(tmp_path):
    runs = {}
    for name, extra in (
        ("plain", []),
        ("inverted", ["data.options.view=inverted"]),
        ("attr", ["data.name=digits-attr"]),
    ):
        cfg = load_config(RunConfig, ROOT / "configs" / "digits-dmz-paper.yaml", [*TINY, *extra])
        runs[name] = load_run(train_run(cfg, tmp_path / name, progress=False))
    src, tgt = runs["plain"], runs["inverted"]
    model, stats = fit_transfer(src, tgt, sizes=[(), (16,)], epochs=3, seed=0)
    assert (model.d_in, model.d_out) == (6, 6) and len(stats["candidates"]) == 2
    x = load_data(src.cfg).test[:5]
    out = transfer(src, tgt, model, x, steps=2)
    assert out.shape == x.shape and torch.isfinite(out).all()
    with pytest.raises(DifflabError, match="not paired image by image"):  # same images, other labels
        paired_codes(src, runs["attr"])
