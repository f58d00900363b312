"""The batched probe grid gives the loop's results: every (view, rate, seed) equals train_probe's run."""

from dataclasses import replace

import pytest

from difflab.representations import Trajectories, build_mixer, probe_protocol, run_study, train_probe
from difflab.representations.grid import replayable, train_probe_grid
from difflab.representations.study import probe_single_times

from .test_probe import toy

SEEDS = [0, 1, 2]
CFG = probe_protocol("paper", lrs=(3e-2, 3e-3), epochs=3, batch_size=64)  # 180 train: 2 full batches + 52


def hard_toy() -> Trajectories:
    """The toy task with a weak signal, so accuracies differ between rates, seeds and epochs."""
    traj = toy(n_train=200, n_test=100)
    for x, y in ((traj.train, traj.train_labels), (traj.test, traj.test_labels)):
        x[:, 2, 0] -= 3.4 * (2 * y - 1)  # signal 4 -> 0.6 (noise std 1)
    return traj


def assert_same(grid: dict, loop: dict):
    assert grid.keys() == loop.keys()
    for key, a in grid.items():
        b = loop[key]
        assert (a.best_epoch, a.test_accuracy, a.val_accuracy) == pytest.approx(
            (b.best_epoch, b.test_accuracy, b.val_accuracy), abs=1e-6
        ), key
        if b.attention is not None:
            assert a.attention == pytest.approx(b.attention, abs=1e-5)


@pytest.mark.parametrize("kind", ["single", "single-mlp", "concat", "gru", "attention"])
def test_grid_equals_the_loop_for_every_rate_and_seed(kind):
    traj = hard_toy()

    def make():
        return build_mixer(kind, 6, 4, 2, index=2, width=16, dropout=0.25)

    grid = train_probe_grid(make, [traj], seeds=SEEDS, config=CFG)[0]
    loop = {(lr, s): train_probe(make, traj, seed=s, config=replace(CFG, lr=lr)) for lr in CFG.rates() for s in SEEDS}
    assert_same(grid, loop)
    # not a degenerate task: the probes disagree, so an unreplayed mask or batch order would show
    assert len({(r.val_accuracy, r.best_epoch) for r in loop.values()}) > 2


def test_time_point_views_equal_the_indexed_probe_of_the_whole_trajectory():
    traj = hard_toy()
    views = [Trajectories(traj.train[:, k : k + 1], traj.train_labels, traj.test[:, k : k + 1], traj.test_labels, [t])
             for k, t in enumerate(traj.times)]  # fmt: skip
    grids = train_probe_grid(lambda: build_mixer("single-mlp", 6, 1, 2, width=16), views, seeds=SEEDS, config=CFG)
    for k, grid in enumerate(grids):

        def make(k=k):
            return build_mixer("single-mlp", 6, 4, 2, index=k, width=16)

        loop = {
            (lr, s): train_probe(make, traj, seed=s, config=replace(CFG, lr=lr)) for lr in CFG.rates() for s in SEEDS
        }
        assert_same(grid, loop)


def test_study_summaries_are_the_same_batched_or_not():
    traj = hard_toy()
    a = run_study(traj, ["single", "concat"], SEEDS, config=CFG)
    b = run_study(traj, ["single", "concat"], SEEDS, config=replace(CFG, batched=False))
    for x, y in zip(a["single"]["single"] + [a["mixers"]["concat"]], b["single"]["single"] + [b["mixers"]["concat"]]):
        assert x["lr"] == y["lr"] and x["best_epochs"] == y["best_epochs"]
        assert x["mean"] == pytest.approx(y["mean"], abs=1e-6) and x["val"] == pytest.approx(y["val"], abs=1e-6)
    assert probe_single_times(traj, "single", SEEDS, config=CFG) == a["single"]["single"]


def test_mixers_with_attention_weight_dropout_are_not_replayable():
    assert replayable(build_mixer("attention", 6, 4, 2, width=16, dropout=0.25))
    quick = build_mixer("attention", 6, 4, 2, width=16)  # the quick layout: dropout 0.1 inside the MHA
    assert not replayable(quick)
    with pytest.raises(ValueError, match="outside nn.Dropout"):
        train_probe_grid(lambda: build_mixer("attention", 6, 4, 2, width=16), [toy()], seeds=[0], config=CFG)
    with pytest.raises(ValueError, match="full budget"):
        train_probe_grid(lambda: build_mixer("concat", 6, 4, 2), [toy()], seeds=[0], config=replace(CFG, patience=3))
