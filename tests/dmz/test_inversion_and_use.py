"""DDIM inversion (exact oracle), bit-flip paths, linear probe."""

import torch

from difflab.dmz import bitflip_path, ddim_invert, soft_path
from difflab.dmz.probe import linear_probe
from difflab.process.factory import build_process
from difflab.process.oracles import GaussianOracle
from difflab.sampling import build_grid
from difflab.sampling.ddim import sample_ddim


def _gaussian(shape, basis="pixel", schedule="cosine", **opts):
    g = torch.Generator().manual_seed(0)
    d = int(torch.tensor(shape).prod())
    a = torch.randn(d, d, generator=g, dtype=torch.float64) / d**0.5
    cov = a @ a.T + 0.1 * torch.eye(d, dtype=torch.float64)
    mean = 0.3 * torch.randn(d, generator=g, dtype=torch.float64)
    data = (mean + torch.randn(512, d, generator=g, dtype=torch.float64) @ torch.linalg.cholesky(cov).T).float()
    process = build_process(shape, basis=basis, schedule=schedule, data=data.reshape(-1, *shape), **opts)
    return process, GaussianOracle(process, mean, cov), data[:16].reshape(-1, *shape)


def _roundtrip_error(process, oracle, x0, steps):
    times = build_grid("uniform", process, steps)
    x_T = ddim_invert(oracle, process, x0.double(), times)
    back = sample_ddim(oracle, process, x_T, times)
    return float((back - x0.double()).pow(2).mean() / x0.double().pow(2).mean()), x_T


def test_ddim_inversion_then_generation_reconstructs_with_an_exact_oracle():
    process, oracle, x0 = _gaussian((6,))
    err_fine, x_T = _roundtrip_error(process, oracle, x0, 200)
    err_coarse, _ = _roundtrip_error(process, oracle, x0, 10)
    assert err_fine < 1e-3, err_fine
    assert err_fine < err_coarse  # the error is discretisation error: it shrinks with the step
    # The inverted noise is a plausible prior draw (white, roughly unit scale).
    w = process.to_white(x_T)
    assert 0.3 < float(w.std()) < 3.0


def test_ddim_inversion_works_per_component_in_a_wavelet_soft_schedule():
    process, oracle, x0 = _gaussian((1, 4, 4), basis="haar", schedule="soft", softness=2.0)
    err, _ = _roundtrip_error(process, oracle, x0, 200)
    assert err < 1e-3, err


def test_bitflip_and_soft_paths():
    a = torch.tensor([0.0, 1.0, 1.0, 0.0, 1.0])
    b = torch.tensor([1.0, 1.0, 0.0, 0.0, 0.0])
    path = bitflip_path(a, b, confidence=torch.tensor([0.9, 0.0, 0.1, 0.0, 0.5]))
    assert torch.equal(path[0], a) and torch.equal(path[-1], b) and path.shape == (4, 5)
    assert ((path[1:] != path[:-1]).sum(1) == 1).all()  # one bit per step
    assert torch.equal(path[1], torch.tensor([0.0, 1.0, 0.0, 0.0, 1.0]))  # least confident differing bit first
    s = soft_path(torch.zeros(3), torch.ones(3), 5)
    assert torch.allclose(s[:, 0], torch.linspace(0, 1, 5))


def test_linear_probe_learns_a_separable_task_and_fails_on_noise():
    g = torch.Generator().manual_seed(0)
    y = torch.arange(300) % 3
    codes = torch.randn(300, 8, generator=g) * 0.1
    codes[:, 0] += y.float()
    acc, std = linear_probe(codes, y)
    assert acc > 0.98 and std >= 0
    acc_noise, _ = linear_probe(torch.randn(300, 8, generator=g), y)
    assert acc_noise < 0.6
