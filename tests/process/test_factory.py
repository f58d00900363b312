"""build_process / empty_process: fitted state, checkpoint round trips, clear errors."""

import math

import pytest
import torch

from difflab.errors import DifflabError
from difflab.process.factory import build_process, empty_process, empty_process_like
from difflab.process.schedules.sequential import Sequential
from difflab.process.schedules.soft import SoftConditioning

SHAPE = (1, 4, 4)


@pytest.fixture(scope="module")
def data():
    g = torch.Generator().manual_seed(0)
    # channel-correlated, non-white data with a non-zero mean
    x = torch.randn(400, *SHAPE, generator=g).cumsum(-1) + 0.5
    return x


@pytest.mark.parametrize("basis", ["pixel", "pca", "dct", "fourier", "haar"])
@pytest.mark.parametrize("prior", ["white", "data"])
def test_soft_data_process_round_trips_through_state_dict(data, basis, prior):
    p = build_process(SHAPE, basis=basis, prior=prior, schedule="soft", data=data, softness=0.5, levels=2)
    q = empty_process_like(p)
    q.load_state_dict(p.state_dict())
    t = torch.tensor([0.1, 0.8])
    assert torch.equal(q.gamma(t), p.gamma(t))
    assert torch.equal(q.scale, p.scale)
    assert torch.allclose(q.to_white(data[:3]), p.to_white(data[:3]))


def test_data_prior_whitens_and_soft_sigma_is_whitened_variance(data):
    p = build_process(SHAPE, basis="dct", prior="data", schedule="soft", data=data, softness=math.inf)
    w = p.to_white(data.double())
    assert torch.allclose((w**2).mean(0), torch.ones(16, dtype=torch.float64), atol=1e-9)
    # whitened Σ = 1 and softness ∞: one linear γ from −7 to 3 for every component
    g = p.gamma(torch.tensor([0.0, 1.0]))
    assert torch.allclose(g, torch.tensor([[-7.0], [3.0]], dtype=torch.float64).expand(2, 16), atol=1e-9)
    # white prior: Σ_i is the raw second moment, so true SNR Σ_i e^{-γ_i} is shared at t = 0
    pw = build_process(SHAPE, basis="dct", prior="white", schedule="soft", data=data, softness=math.inf)
    sigma = (pw.to_white(data.double()) ** 2).mean(0)
    snr0 = sigma * torch.exp(-pw.gamma(torch.tensor(0.0)))
    assert torch.allclose(snr0, torch.full_like(snr0, math.exp(7.0)), rtol=1e-9)


def test_variance_ordering_generates_large_components_first(data):
    p = build_process(SHAPE, basis="pca", prior="data", schedule="soft", data=data, softness=0.2, ordering="variance")
    g = p.gamma(torch.tensor(0.5))
    # larger raw second moment E[u_i²] -> lower γ (higher SNR, generated first)
    moment = (p.basis.to_components(data.double()) ** 2).mean(0)
    assert torch.equal(torch.argsort(g), torch.argsort(-moment))
    assert g.max() - g.min() > 5.0  # softness 0.2 spreads the components apart


def test_sequential_in_haar_and_pixel(data):
    for basis in ("pixel", "haar"):
        p = build_process(SHAPE, basis=basis, schedule="sequential", softness=0.5, axis="row")
        assert isinstance(p.schedule, Sequential) and p.schedule.tau.shape == (16,)
        g = p.gamma(torch.tensor(0.3))
        assert g.min() < g.max()


def test_scalar_defaults_and_empty_process():
    p = build_process(SHAPE)
    assert p.basis.name == "pixel" and p.schedule.name == "cosine" and torch.all(p.scale == 1)
    q = empty_process(SHAPE, basis="pca", schedule="soft")
    assert isinstance(q.schedule, SoftConditioning)
    with pytest.raises(DifflabError, match="not fitted"):
        q.to_white(torch.zeros(1, *SHAPE))
    with pytest.raises(DifflabError, match="unknown process options"):
        empty_process(SHAPE, bassis="pca")


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(basis="wavelet"), "unknown basis"),
        (dict(prior="laplace"), "unknown prior"),
        (dict(schedule="exp"), "unknown schedule"),
        (dict(ordering="random", schedule="soft"), "unknown ordering"),
        (dict(axis="diagonal", schedule="sequential"), "unknown axis"),
        (dict(basis="pca"), "basis='pca'.*need training data"),
        (dict(prior="data"), "prior='data'.*need training data"),
        (dict(schedule="soft"), "schedule='soft'.*need training data"),
        (dict(basis="dct", schedule="sequential"), "sequential schedule needs component positions"),
        (dict(basis="haar", levels=3), "divisible by 2\\*\\*levels=8"),
        (dict(softness=0.5), "softness and ordering apply"),
    ],
)
def test_factory_errors(kwargs, match):
    with pytest.raises(DifflabError, match=match):
        build_process(SHAPE, **kwargs)


def test_factory_rejects_mismatched_data_and_shape():
    with pytest.raises(DifflabError, match="data must be shaped"):
        build_process(SHAPE, prior="data", data=torch.zeros(10, 1, 4, 5))
    with pytest.raises(DifflabError, match=r"\(C, H, W\)"):
        build_process((4, 4), basis="dct")
    with pytest.raises(DifflabError, match="sequential schedule needs component positions"):
        build_process((16,), schedule="sequential")


def test_options_are_one_object_kept_on_the_process(data):
    from difflab.config.schema import ProcessConfig
    from difflab.process.options import ProcessOptions

    assert ProcessConfig is ProcessOptions  # the config section is the process's own options
    opts = ProcessOptions(basis="haar", levels=2, prior="data", schedule="soft", softness=0.5, ordering="variance")
    p = build_process(SHAPE, opts, data=data)
    assert p.options == opts and p.options is not opts  # a copy: later edits to opts do not change p
    assert (
        build_process(
            SHAPE, basis="haar", levels=2, prior="data", schedule="soft", softness=0.5, ordering="variance", data=data
        ).options
        == opts
    )  # the keyword API builds the same object
    q = empty_process(SHAPE, opts)
    assert q.options == opts and empty_process_like(p).options == opts
    assert build_process(SHAPE, opts, data=data, basis="dct").options.basis == "dct"  # keywords override
    assert build_process(SHAPE).options == ProcessOptions()
    with pytest.raises(DifflabError, match="unknown process options \\['bassis'\\]"):
        build_process(SHAPE, bassis="pca")


def test_parts_say_whether_they_need_data():
    from difflab.process.bases.registry import BASES
    from difflab.process.prior import PRIORS
    from difflab.process.schedules.registry import SCHEDULES

    assert [n for n, cls in BASES.items() if cls.needs_data] == ["pca"]
    assert [n for n, needs in PRIORS.items() if needs] == ["data"]
    assert [n for n, cls in SCHEDULES.items() if cls.needs_data] == ["soft"]
    for name, cls in SCHEDULES.items():  # empty_process loads such a schedule from a checkpoint
        assert not cls.needs_data or callable(getattr(cls, "placeholder", None)), name


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(schedule="cosine"),
        dict(schedule="ddpm"),
        dict(schedule="linear"),
        dict(schedule="soft", basis="dct", softness=1.0),
        dict(schedule="sequential", softness=2.0),
    ],
)
def test_process_beta_is_the_schedules_beta_and_the_samplers_sigma_squared_dgamma(data, kwargs):
    p = build_process(SHAPE, data=data, **kwargs)
    for t in torch.linspace(0.0, 1.0, 101, dtype=torch.float64):
        beta = p.beta(t)
        assert beta.shape == (p.dim,)
        # bit for bit what the SDE sampler computed before Process.beta existed
        assert torch.equal(beta, p.alpha_sigma(t)[1] ** 2 * p.schedule.dgamma_dt(t).expand(p.dim))
        torch.testing.assert_close(beta, p.schedule.beta(t).expand(p.dim), rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(
            beta, torch.sigmoid(p.gamma(t)) * p.schedule.dgamma_dt(t).expand(p.dim), rtol=1e-12, atol=1e-12
        )
    assert p.beta(torch.tensor([0.2, 0.7])).shape == (2, p.dim)
