"""What softness → ∞ means under each form and prior, and mean-centring (fidelity review G1, G3, G4)."""

import math

import pytest
import torch

from difflab.data import load_dataset
from difflab.errors import DifflabError
from difflab.process.factory import build_process, empty_process
from difflab.process.oracles import GaussianOracle
from difflab.process.schedules.soft import SoftConditioning
from tests.sampling.gaussian_cases import SHAPE, gaussian_data, gaussian_target


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits").train


def _gamma(process, t):
    return process.gamma(torch.tensor(t, dtype=torch.float64))


def test_true_snr_form_is_equal_snr_not_one_gamma_under_the_white_prior(digits):
    p = build_process((1, 8, 8), basis="dct", prior="white", schedule="soft", data=digits)
    g0 = _gamma(p, 0.0)
    assert float(g0.max() - g0.min()) > 3  # γ(0) spans log Σ: not one γ
    # ... but the true SNR Σ_i e^{−γ_i} is the same for every component
    sigma = (p.basis.to_components(digits.double()) ** 2).mean(0).clamp_min(1e-12)
    true_snr = sigma.log() - g0
    assert float(true_snr.max() - true_snr.min()) < 1e-9


@pytest.mark.parametrize("prior", ["white", "data"])
@pytest.mark.parametrize("basis", ["pixel", "dct", "haar", "pca"])
def test_one_gamma_form_at_infinite_softness_is_standard_diffusion(digits, basis, prior):
    p = build_process((1, 8, 8), basis=basis, prior=prior, schedule="soft", soft_form="one_gamma", data=digits)
    for t in (0.0, 0.3, 1.0):
        g = _gamma(p, t)
        assert float(g.max() - g.min()) == 0.0
    assert float(_gamma(p, 0.0)[0]) == -7.0 and float(_gamma(p, 1.0)[0]) == pytest.approx(3.0)


def test_one_gamma_white_prior_is_the_same_process_in_every_basis(digits):
    """One γ and S = 1: the forward marginals of x are basis-independent, so are the exact denoisers."""
    mean, cov = gaussian_target()
    x = gaussian_data()[:5].double()
    t = torch.full((5,), 0.4, dtype=torch.float64)
    outs = []
    for basis in ("pixel", "dct", "haar", "pca"):
        p = build_process(SHAPE, basis=basis, schedule="soft", soft_form="one_gamma", data=gaussian_data())
        outs.append(GaussianOracle(p, mean, cov)(x, t))
    for o in outs[1:]:
        assert torch.allclose(o, outs[0], atol=1e-9)


def test_gud_code_form_matches_the_gud_formula():
    """GUD's variance_adjusted_schedule: L = l/softness + log Σ, raw γ end points at γ̃."""
    g = torch.Generator().manual_seed(0)
    var = torch.rand(12, generator=g, dtype=torch.float64) * 3 + 0.01
    labels = -var.log()
    for softness in (0.3, 1.0, 4.0):
        s = SoftConditioning(labels, var, softness=softness, form="gud_code")
        big_l = labels / softness + var.log()
        expect0 = -7.0 + (big_l - big_l.max())
        expect_delta = 3.0 - (-7.0) + (big_l.max() - big_l.min())
        assert torch.allclose(s.gamma0, expect0) and float(s.delta) == pytest.approx(float(expect_delta))
        assert float(s.gamma(torch.tensor(0.0)).max()) == pytest.approx(-7.0)
        assert float(s.gamma(torch.tensor(1.0)).min()) == pytest.approx(3.0)
    # variance ordering at softness 1: one γ for all (standard diffusion), as GUD's docstring says
    one = SoftConditioning(labels, var, softness=1.0, form="gud_code").gamma0
    assert float(one.max() - one.min()) < 1e-12
    # with Σ ≡ 1 (the data prior) the three forms coincide
    ones = torch.ones(12, dtype=torch.float64)
    forms = [SoftConditioning(labels, ones, softness=0.5, form=f) for f in ("true_snr", "gud_code", "one_gamma")]
    for f in forms[1:]:
        assert torch.allclose(f.gamma0, forms[0].gamma0) and torch.allclose(f.delta, forms[0].delta)


def test_bad_soft_form_is_refused():
    with pytest.raises(DifflabError, match="form"):
        SoftConditioning(torch.zeros(3), torch.ones(3), form="paper")
    with pytest.raises(DifflabError, match="soft_form"):
        build_process(SHAPE, schedule="cosine", soft_form="one_gamma")


def test_centring_ranks_zero_variance_components_last(digits):
    """Review G3: uncentred, a zero-variance PCA component ranks 4th of 64 by 'variance'; centred, last."""
    kw = dict(basis="pca", prior="white", schedule="soft", ordering="variance", data=digits)
    centred = build_process((1, 8, 8), center=True, **kw)
    comps = centred.basis.to_components(digits.double() - digits.double().mean(0))
    var = comps.var(0, unbiased=False)
    zero = var < 1e-10
    assert zero.any()
    # variance ordering: later generation = higher γ at t = 0 under every form once Σ is centred
    labels_rank = torch.argsort(torch.argsort(-var))  # rank by centred variance
    # under one_gamma the schedule is the ordering alone: zero-variance components start noisiest
    ordered = build_process((1, 8, 8), center=True, softness=0.5, soft_form="one_gamma", **kw)
    g0 = _gamma(ordered, 0.0)
    assert float(g0[zero].min()) >= float(g0[~zero].max())
    uncentred = build_process((1, 8, 8), **kw)
    second = (uncentred.basis.to_components(digits.double()) ** 2).mean(0)
    rank_uncentred = int(torch.argsort(torch.argsort(-second))[zero].min())
    rank_centred = int(labels_rank[zero].min())
    assert rank_uncentred < 10 and rank_centred >= 64 - int(zero.sum())


def test_centred_data_prior_scale_is_the_centred_std(digits):
    p = build_process((1, 8, 8), basis="pca", prior="data", schedule="cosine", center=True, data=digits)
    x = digits.double()
    std = p.basis.to_components(x - x.mean(0)).std(0, unbiased=False).clamp_min(1e-3)
    assert torch.allclose(p.scale, std, rtol=1e-9)
    w = p.to_white(x)
    assert torch.allclose(w.mean(0), torch.zeros(64, dtype=torch.float64), atol=1e-9)
    assert torch.allclose(p.from_white(w), x, atol=1e-9)
    # the prior is N(μ, ...) in data layout
    draws = p.prior_sample(20000, torch.Generator().manual_seed(0), torch.float64)
    assert torch.allclose(draws.mean(0), x.mean(0), atol=0.05)


def test_centred_process_round_trips_a_checkpoint(digits):
    p = build_process((1, 8, 8), basis="dct", prior="data", schedule="soft", center=True, data=digits)
    q = empty_process((1, 8, 8), p.options)
    q.load_state_dict(p.state_dict())
    assert torch.equal(q.mean, p.mean) and torch.equal(q.scale, p.scale)
    # an uncentred process keeps no mean buffer (old checkpoints load unchanged)
    assert "mean" not in build_process((1, 8, 8), schedule="cosine").state_dict()
    with pytest.raises(DifflabError, match="center"):
        build_process((1, 8, 8), center=True)


@pytest.mark.parametrize("prior", ["white", "data"])
def test_centred_oracle_sampling_reproduces_the_gaussian(prior):
    from difflab.sampling import build_grid, get_sampler

    p = build_process(SHAPE, basis="pca", prior=prior, schedule="cosine", center=True, data=gaussian_data())
    mean, cov = gaussian_target()
    oracle = GaussianOracle(p, mean, cov)
    g = torch.Generator().manual_seed(0)
    x = get_sampler("ddim")(oracle, p, p.prior_sample(8000, g, torch.float64), build_grid("uniform", p, 128))
    x = x.reshape(8000, -1)
    assert float((x.mean(0) - mean).norm() / math.sqrt(float(cov.trace()))) < 0.05
    assert float((torch.cov(x.T) - cov).norm() / cov.norm()) < 0.06


def test_config_soft_forms_are_the_schedules():
    from typing import get_args

    from difflab.process.schedules.registry import SoftForm
    from difflab.process.schedules.soft import SOFT_FORMS

    assert get_args(SoftForm) == SOFT_FORMS
