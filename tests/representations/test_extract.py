"""Extraction: deterministic under a seed, independent of the batch, hooks cleaned up, times as in the paper."""

import pytest
import torch

from difflab.errors import DifflabError
from difflab.representations import UNetFeatures, corrupt, extract_trajectory, parse_times, trajectory_times


def test_trajectory_times_follow_the_paper():
    assert trajectory_times(1) == [0.5]
    assert trajectory_times(5) == [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
    assert len(trajectory_times(25)) == 26
    assert parse_times("0.9,0.1") == [0.1, 0.9]
    assert parse_times("2") == [0.0, 0.5, 1.0]
    with pytest.raises(DifflabError):
        parse_times("0.5,1.5")
    with pytest.raises(DifflabError):
        trajectory_times(0)


@pytest.fixture()
def digits_x(tiny_run):
    from difflab.data import load_dataset

    return load_dataset("digits").test[:20]


def test_extraction_is_deterministic_and_batch_independent(tiny_run, digits_x):
    src = UNetFeatures(tiny_run.denoiser, ["mid.res.1", "down.0.res.0"], pool=("mean", "max"), seed=3)
    times = [0.1, 0.5, 0.9]
    a = extract_trajectory(src, digits_x, times, batch_size=20)
    b = extract_trajectory(src, digits_x, times, batch_size=7)
    assert a.shape == (20, 3, 2 * (16 + 8))  # mid has 2*base channels, down.0 base channels; mean+max
    torch.testing.assert_close(a, b, rtol=0, atol=1e-5)
    # example i's features do not depend on which other examples are extracted with it
    torch.testing.assert_close(
        extract_trajectory(src, digits_x[5:9], times, indices=torch.arange(5, 9))[0], a[5], rtol=0, atol=1e-5
    )
    other_seed = UNetFeatures(tiny_run.denoiser, ["mid.res.1", "down.0.res.0"], pool=("mean", "max"), seed=4)
    assert not torch.allclose(extract_trajectory(other_seed, digits_x, times), a)
    assert all(not m._forward_hooks for m in src.modules.values())


def test_time_changes_features_and_noise_is_fresh_per_time(tiny_run, digits_x):
    src = UNetFeatures(tiny_run.denoiser, ["mid.res.1"], seed=0)
    traj = extract_trajectory(src, digits_x, [0.5, 0.5])  # same t at two positions: different noise draws
    assert not torch.allclose(traj[:, 0], traj[:, 1])
    traj = extract_trajectory(src, digits_x, [0.0, 1.0])
    assert not torch.allclose(traj[:, 0], traj[:, 1])


def test_unknown_component_is_a_clear_error(tiny_run):
    with pytest.raises(DifflabError, match="mid.rez.1"):
        UNetFeatures(tiny_run.denoiser, ["mid.rez.1"])


def test_corruption_is_seeded_and_scaled():
    x = torch.zeros(50, 1, 8, 8)
    a, b = corrupt(x, 0.5, seed=1), corrupt(x, 0.5, seed=1)
    torch.testing.assert_close(a, b)
    assert abs(a.std().item() - 0.5) < 0.05
    assert torch.equal(corrupt(x, 0.0, seed=1), x)
    torch.testing.assert_close(corrupt(x[:10], 0.5, seed=1), a[:10])
