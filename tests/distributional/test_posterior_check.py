"""The posterior check (metrics/posterior.py): exact oracles first, then a tiny trained generator."""

import numpy as np
import pytest
import torch

from difflab.config import load_config
from difflab.config.schema import RunConfig
from difflab.data import load_dataset
from difflab.errors import DifflabError
from difflab.metrics.kernels import energy_distance
from difflab.metrics.posterior import posterior_fit
from difflab.pipeline import load_run, train_run
from difflab.process.factory import build_process
from difflab.process.oracles import GMMOracle


@pytest.fixture(scope="module")
def gmm():
    ds = load_dataset("gmm", dim=2, n_components=4, n_train=2000, n_test=500)
    process = build_process((2,), schedule="cosine")
    return ds, process, GMMOracle(process, ds.meta["weights"], ds.meta["means"], ds.meta["covs"])


def _x_t(ds, process, t, k=12):
    x0 = ds.test[:k].double()
    return process.noise(x0, torch.full((k,), t), noise=torch.Generator().manual_seed(1))[0]


def test_energy_distance_of_two_point_masses_is_twice_their_distance():
    a, b = np.full((5, 2), [0.0, 0.0]), np.full((7, 2), [3.0, 4.0])
    assert energy_distance(a, b) == pytest.approx(10.0)
    x = np.random.default_rng(0).standard_normal((50, 3))
    assert energy_distance(x, x + 0.5) == pytest.approx(energy_distance(x + 0.5, x))


def test_posterior_sample_takes_a_scalar_time(gmm):
    _, process, oracle = gmm
    x = torch.randn(6, 2, dtype=torch.float64)
    a = oracle.posterior_sample(x, 0.3, generator=torch.Generator().manual_seed(0))
    b = oracle.posterior_sample(x, torch.full((6,), 0.3), generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(a, b)


def test_exact_sampler_scores_at_the_floor_and_the_marginal_and_the_mean_do_not(gmm):
    ds, process, oracle = gmm
    g = torch.Generator().manual_seed(2)
    x_t, t = _x_t(ds, process, 0.3), 0.3

    def exact(x, tt):
        return oracle.posterior_sample(x, tt, generator=g)

    def marginal(x, tt):  # ignores x_t: draws from p₀ (the training set), what a marginal-only loss allows
        return ds.train[torch.randint(0, len(ds.train), (x.shape[0],), generator=g)].double()

    good = posterior_fit(exact, exact, x_t, t, n=128, point=oracle)
    bad = posterior_fit(marginal, exact, x_t, t, n=128)
    noise = good["energy_floor"].std() * 4 / np.sqrt(len(x_t)) + 1e-3
    assert abs(good["energy"].mean() - good["energy_floor"].mean()) < noise
    assert good["energy_point"].mean() > 10 * noise
    assert bad["energy"].mean() > 10 * noise and bad["mmd"].mean() > 10 * abs(good["mmd_floor"].mean()) + 1e-3
    assert 0.7 < good["var_ratio"].mean() < 1.3 and bad["var_ratio"].mean() > 2
    with pytest.raises(DifflabError, match="n >= 2"):
        posterior_fit(exact, exact, x_t, t, n=1)


def test_a_tiny_trained_generator_beats_the_posterior_mean_point_mass(tmp_path, gmm):
    ds, _, _ = gmm
    cfg = load_config(
        RunConfig,
        "configs/gmm-distributional.yaml",
        [
            "data.options.dim=2",
            "data.options.n_train=2000",
            "data.options.n_test=500",
            "network.hidden=32",
            "network.depth=2",
            "method.m=4",
            "train.batch_size=32",
            "train.steps=60",
            "train.checkpoint_every=60",
            "train.warmup_steps=10",
            "train.ema_decay=0.9",
        ],
    )
    train_run(cfg, tmp_path / "run", progress=False)
    model = load_run(tmp_path / "run").denoiser
    oracle = GMMOracle(model.process, ds.meta["weights"], ds.meta["means"], ds.meta["covs"])
    g = torch.Generator().manual_seed(3)

    def draw(x, tt):
        return model(x.float(), tt.float(), xi=torch.randn(x.shape, generator=g)).double()

    x_t = _x_t(ds, model.process, 0.6)
    r = posterior_fit(draw, lambda x, tt: oracle.posterior_sample(x, tt, generator=g), x_t, 0.6, n=64, point=oracle)
    # lenient: after 60 steps the draws are far from exact, but already a distribution, not a point
    assert r["energy"].mean() < 0.5 * r["energy_point"].mean()
    assert r["var_ratio"].mean() > 0.3
