"""The learned-forward-mean objective: the limit of the discrete Gaussian KLs, the fixed process as a special case."""

import pytest
import torch

from difflab.dmz.forward_mean import diffusion_integrand, forward_mean_loss, terminal_kl
from difflab.process.schedules.scalar import CosineSchedule


@pytest.fixture(autouse=True)
def float64():
    """The limit check needs float64; restore the default for the rest of the session."""
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(old)


def curved(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """A mean with F(x, 0) = x that depends on x and t non-linearly (so ∂_t F matters)."""
    t = t.unsqueeze(-1)
    return x * (1 + t**2) + t * torch.sin(3 * x)


def identity(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    return x


def discrete_kl(mean, x0, x_hat, t, delta, schedule):
    """KL(q(x_s | x_t, x₀) ‖ q(x_s | x_t, x̂)), s = t − δ, for the chain with means α_u F(·, u) (x_t cancels)."""
    s = t - delta
    gs, gt = schedule.gamma(s), schedule.gamma(t)
    a_s, a_t = torch.sigmoid(-gs).sqrt(), torch.sigmoid(-gt).sqrt()
    v_s, v_t = torch.sigmoid(gs), torch.sigmoid(gt)
    a_ts = a_t / a_s
    c = a_ts * v_s / v_t
    d = a_s * (mean(x0, s) - mean(x_hat, s)) - c * a_t * (mean(x0, t) - mean(x_hat, t))
    var = v_s * (v_t - a_ts**2 * v_s) / v_t
    return (d**2 / (2 * var)).sum(-1)


@pytest.mark.parametrize("mean", [identity, curved])
def test_integrand_is_the_limit_of_the_discrete_kl(mean):
    g = torch.Generator().manual_seed(0)
    x0, x_hat = torch.randn(4, 6, generator=g), torch.randn(4, 6, generator=g)
    t = torch.tensor([0.2, 0.4, 0.6, 0.8])
    sched = CosineSchedule()
    exact = diffusion_integrand(mean, x0, x_hat, t, sched)
    for delta, tol in ((1e-3, 2e-2), (1e-5, 2e-4)):  # first-order convergence in δ
        rel = (discrete_kl(mean, x0, x_hat, t, delta, sched) / delta - exact).abs() / exact
        assert rel.max() < tol, (delta, rel)


def test_fixed_mean_reduces_to_the_vdm_term_and_the_time_derivative_matters():
    g = torch.Generator().manual_seed(1)
    x0, x_hat = torch.randn(3, 5, generator=g), torch.randn(3, 5, generator=g)
    t = torch.tensor([0.3, 0.5, 0.7])
    sched = CosineSchedule()
    gamma, dgamma = sched.gamma(t), sched.dgamma_dt(t)
    vdm = 0.5 * (dgamma * torch.exp(-gamma) * (x0 - x_hat) ** 2).sum(-1)
    torch.testing.assert_close(diffusion_integrand(identity, x0, x_hat, t, sched), vdm)
    # the same ΔF at t with the ∂_t term dropped is a different number: the jvp term is not a no-op
    no_dt = 0.5 * (dgamma * torch.exp(-gamma) * (curved(x0, t) - curved(x_hat, t)) ** 2).sum(-1)
    assert (diffusion_integrand(curved, x0, x_hat, t, sched) - no_dt).abs().min() > 1e-3


def test_terminal_kl_matches_torch_and_penalises_a_mean_that_survives_to_t1():
    x0 = torch.randn(3, 4, generator=torch.Generator().manual_seed(2))
    sched = CosineSchedule()
    g1 = sched.gamma(torch.ones(3))
    q = torch.distributions.Normal(torch.sigmoid(-g1).sqrt() * curved(x0, torch.ones(3)), torch.sigmoid(g1).sqrt())
    ref = torch.distributions.kl_divergence(q, torch.distributions.Normal(0.0, 1.0)).sum(-1)
    torch.testing.assert_close(terminal_kl(curved, x0, sched), ref)

    def loud(x, t):  # a mean that grows x by 10⁴ at t = 1: α₁ F no longer vanishes
        return x * (1 + 1e4 * t.unsqueeze(-1))

    assert (terminal_kl(loud, x0, sched) > 100 * terminal_kl(identity, x0, sched)).all()


def test_loss_trains_the_mean_and_the_denoiser():
    torch.manual_seed(3)
    f_net, d_net = torch.nn.Linear(5, 4), torch.nn.Linear(5, 4)

    def mean(x, t):  # F(x, 0) = x by construction
        return x + t.unsqueeze(-1) * f_net(torch.cat([x, t.unsqueeze(-1)], -1))

    def denoiser(x_t, t):
        return d_net(torch.cat([x_t, t.unsqueeze(-1)], -1))

    x0, t, eps = torch.randn(8, 4), torch.rand(8) * 0.8 + 0.1, torch.randn(8, 4)
    loss = forward_mean_loss(mean, denoiser, x0, t, eps, CosineSchedule()).mean()
    loss.backward()
    assert torch.isfinite(loss)
    for p in (*f_net.parameters(), *d_net.parameters()):
        assert p.grad is not None and p.grad.abs().sum() > 0
