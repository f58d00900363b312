"""Probes learn a separable toy task; the study summarises seeds; seeds make runs reproducible."""

import pytest
import torch

from difflab.errors import DifflabError
from difflab.representations import ProbeConfig, Trajectories, best_single, run_study, train_probe
from difflab.representations.mixers import AttentionMixer, Concat, GRUMixer, SingleTime


def toy(n_train=300, n_test=200, k=4, f=6, informative=2, seed=0) -> Trajectories:
    """Class = sign pattern of one feature at one time point (``informative``); other points are noise."""
    g = torch.Generator().manual_seed(seed)

    def split(n):
        y = torch.randint(0, 2, (n,), generator=g)
        x = torch.randn(n, k, f, generator=g)
        x[:, informative, 0] += 4.0 * (2 * y - 1)
        return x, y

    (a, ya), (b, yb) = split(n_train), split(n_test)
    return Trajectories(a, ya, b, yb, times=[i / (k - 1) for i in range(k)])


CFG = ProbeConfig(epochs=30, patience=10, batch_size=64, lr=1e-2)
SMALL = {
    "concat": lambda: Concat(6, 2, 4),
    "single-mlp": lambda: SingleTime(6, 2, 2, hidden=32),
    "gru": lambda: GRUMixer(6, 2, hidden=32),
    "attention": lambda: AttentionMixer(6, 2, dim=32, heads=4),
}


@pytest.mark.parametrize("kind", list(SMALL))
def test_mixers_learn_a_separable_task(kind):
    cfg = CFG if kind != "attention" else ProbeConfig(epochs=30, patience=10, batch_size=64, lr=3e-3)
    res = train_probe(SMALL[kind], toy(), seed=0, config=cfg)
    assert res.test_accuracy >= 0.98
    if kind == "attention":
        assert len(res.attention) == 4 and abs(sum(res.attention) - 1) < 0.5


def test_single_probe_finds_the_informative_time():
    study = run_study(toy(), ["single"], seeds=[0, 1], config=CFG)
    means = [s["mean"] for s in study["single"]["single"]]
    assert means[2] >= 0.98 and max(means[:2] + means[3:]) < 0.7
    assert best_single(study)["t"] == pytest.approx(2 / 3)


def test_same_seed_same_result_and_study_errors():
    traj = toy()
    make = SMALL["gru"]
    a, b = train_probe(make, traj, seed=1, config=CFG), train_probe(make, traj, seed=1, config=CFG)
    assert a == b
    with pytest.raises(DifflabError, match="unknown mixer"):
        run_study(traj, ["lstm"], seeds=[0])


def test_one_time_trajectories_skip_the_mixers_that_combine_times_and_say_so():
    full = toy()
    one = Trajectories(full.train[:, 2:3], full.train_labels, full.test[:, 2:3], full.test_labels, times=[0.0])
    with pytest.warns(UserWarning, match="attention, gru skipped"):
        study = run_study(one, ["concat", "attention", "gru"], seeds=[0], config=ProbeConfig(epochs=2))
    assert study["skipped"] == ["attention", "gru"] and list(study["mixers"]) == ["concat"]
