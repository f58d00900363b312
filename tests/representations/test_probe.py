"""Probes learn a separable toy task; the study summarises seeds; seeds make runs reproducible."""

import pytest
import torch

from difflab.errors import DifflabError
from difflab.representations import (
    ProbeConfig,
    Trajectories,
    best_single,
    probe_mixer,
    probe_protocol,
    run_study,
    train_probe,
)
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


def _with_test_labels(traj: Trajectories, labels: torch.Tensor) -> Trajectories:
    return Trajectories(traj.train, traj.train_labels, traj.test, labels, traj.times)


def test_sweep_choices_never_look_at_the_test_split():
    # Property: scrambling the test labels leaves the chosen rate, the per-rate validation scores and the
    # best epochs unchanged; only the reported test accuracy moves.
    traj = toy(n_train=200, n_test=100)
    cfg = probe_protocol("paper", lrs=(3e-2, 1e-3, 1e-5), epochs=6, batch_size=64)
    a = probe_mixer(traj, "single", [0, 1], index=2, config=cfg)
    for seed in (0, 1):
        g = torch.Generator().manual_seed(seed)
        scrambled = _with_test_labels(traj, torch.randint(0, 2, traj.test_labels.shape, generator=g))
        b = probe_mixer(scrambled, "single", [0, 1], index=2, config=cfg)
        assert (a["lr"], a["val_by_lr"], a["best_epochs"]) == (b["lr"], b["val_by_lr"], b["best_epochs"])
    assert a["lr"] != 1e-5 and a["val"] == max(a["val_by_lr"].values())


def test_best_single_time_is_chosen_on_validation_not_test():
    study = {
        "single": {
            "single": [
                {"t": 0.0, "mean": 0.9, "std": 0.0, "val": 0.5},  # best on test, worse on validation
                {"t": 1.0, "mean": 0.7, "std": 0.0, "val": 0.8},
            ]
        }
    }
    assert best_single(study)["t"] == 1.0


def test_paper_protocol_runs_the_full_budget_and_clips():
    traj = toy(n_train=120, n_test=40)
    cfg = probe_protocol("paper", lrs=(1e-3,), epochs=5, batch_size=32)
    assert cfg.patience is None and cfg.grad_clip == 1.0 and cfg.rates() == (1e-3,)
    seen = []

    def make():
        model = SingleTime(6, 2, 2)
        model.register_forward_hook(lambda m, i, o: seen.append(1) if m.training else None)
        return model

    res = train_probe(make, traj, seed=0, config=cfg)
    assert len(seen) == 5 * 4 and 0 <= res.best_epoch < 5  # 4 batches of 32 in 108 examples, all 5 epochs
    with pytest.raises(DifflabError, match="unknown probe protocol"):
        probe_protocol("fast")
