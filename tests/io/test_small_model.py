"""The weights + JSON pair behind the learned code prior and the DMZ code map."""

import pytest
import torch

from difflab.errors import DifflabError
from difflab.io.small_model import read_small_model, save_small_model

NAMES = ("net.safetensors", "net.json")


def test_round_trip_keeps_weights_architecture_and_stats(tmp_path):
    state = {"w": torch.randn(3, 2), "b": torch.zeros(2)}
    save_small_model(tmp_path / "sub", NAMES, state, {"kind": "mlp", "hidden": [4]}, {"nll": 1.5})
    got, arch, stats = read_small_model(tmp_path / "sub", NAMES, "none here")
    assert torch.equal(got["w"], state["w"]) and torch.equal(got["b"], state["b"])
    assert arch == {"kind": "mlp", "hidden": [4]} and stats == {"nll": 1.5}
    assert sorted(p.name for p in (tmp_path / "sub").iterdir()) == sorted(NAMES)  # no temporaries left


def test_missing_pair_gives_the_callers_message(tmp_path):
    with pytest.raises(DifflabError, match="^none here$"):
        read_small_model(tmp_path, NAMES, "none here")


@pytest.mark.parametrize("which", [0, 1])
def test_corrupt_file_is_one_line(tmp_path, which):
    save_small_model(tmp_path, NAMES, {"w": torch.ones(2)}, {"kind": "x"}, {})
    (tmp_path / NAMES[which]).write_bytes(b"\x00garbage{")
    with pytest.raises(DifflabError, match="corrupt") as err:
        read_small_model(tmp_path, NAMES, "none here")
    assert "\n" not in str(err.value)
