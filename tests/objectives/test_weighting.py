"""Time sampling (EDM log-normal) and Min-SNR-γ weighting: closed forms, moments, defaults unchanged."""

import pytest
import torch
from torch import nn

from difflab.config.schema import MethodConfig, TrainConfig
from difflab.models.denoiser import Denoiser
from difflab.objectives.build import build_objective
from difflab.objectives.regression import regression_loss, stratified_times
from difflab.objectives.weighting import lognormal_times, min_snr_weight
from difflab.process.factory import build_process
from difflab.process.process import Process
from difflab.sampling.grids import mean_logsnr
from tests.sampling.gaussian_cases import SHAPE, gaussian_data


def _vp(n: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    lam = torch.linspace(-12, 12, n, dtype=torch.float64)[
        torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    ]
    return torch.sigmoid(lam).sqrt(), torch.sigmoid(-lam).sqrt()  # α, σ with log(α²/σ²) = λ


def test_min_snr_closed_forms():
    alpha, sigma = _vp(101)
    snr = alpha**2 / sigma**2
    for gamma in (0.5, 5.0, 1e9):
        w_x0 = min_snr_weight("x0", alpha, sigma, gamma)
        torch.testing.assert_close(w_x0, snr.clamp(max=gamma), rtol=1e-14, atol=0)
        torch.testing.assert_close(min_snr_weight("eps", alpha, sigma, gamma), w_x0 / snr, rtol=1e-14, atol=0)
        torch.testing.assert_close(min_snr_weight("eps_gud", alpha, sigma, gamma), w_x0 / snr, rtol=1e-14, atol=0)
        torch.testing.assert_close(min_snr_weight("v", alpha, sigma, gamma), w_x0 / (snr + 1), rtol=1e-14, atol=0)
    # γ = 5 (the paper's default): ε weight is 1 below SNR 5 and 5/SNR above
    w = min_snr_weight("eps", alpha, sigma, 5.0)
    assert torch.all(w[snr <= 5] == 1) and torch.allclose(w[snr > 5], 5 / snr[snr > 5])
    # SNR = 0 (a fully noised component): ε weight 1, no 0/0
    zero = min_snr_weight("eps", torch.zeros(1, dtype=torch.float64), torch.ones(1, dtype=torch.float64), 5.0)
    assert zero.item() == 1.0


def test_min_snr_is_the_same_weighting_in_every_parameterisation():
    """Weighted ε-, v- and x₀-MSE of one prediction agree (Hang et al.: the weights differ by SNR, SNR + 1)."""
    g = torch.Generator().manual_seed(1)
    alpha, sigma = _vp(64)
    alpha, sigma = alpha[:, None], sigma[:, None]
    w0, eps = torch.randn(64, 5, generator=g, dtype=torch.float64), torch.randn(64, 5, generator=g, dtype=torch.float64)
    wt = alpha * w0 + sigma * eps
    x0_hat = w0 + 0.3 * torch.randn(64, 5, generator=g, dtype=torch.float64)  # an imperfect prediction
    eps_hat = Process.x0_to_eps(wt, x0_hat, alpha, sigma)
    v_hat = Process.v_target(x0_hat, eps_hat, alpha, sigma)
    v = Process.v_target(w0, eps, alpha, sigma)
    losses = {
        "x0": min_snr_weight("x0", alpha, sigma, 5.0) * (x0_hat - w0) ** 2,
        "eps": min_snr_weight("eps", alpha, sigma, 5.0) * (eps_hat - eps) ** 2,
        "v": min_snr_weight("v", alpha, sigma, 5.0) * (v_hat - v) ** 2,
    }
    torch.testing.assert_close(losses["eps"], losses["x0"], rtol=1e-9, atol=1e-12)
    torch.testing.assert_close(losses["v"], losses["x0"], rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("schedule", ["cosine", "soft"])
def test_lognormal_levels_have_edms_moments_and_map_back(schedule):
    """ln ν of the drawn times (ν̄ = exp(-λ̄/2)) is N(P_mean, P_std²); n = 20000 stratified draws."""
    process = build_process(SHAPE, basis="pca", prior="data", schedule=schedule, data=gaussian_data())
    g = torch.Generator().manual_seed(0)
    t, log_nu = lognormal_times(process, stratified_times(20000, g), -1.2, 1.2)
    assert t.dtype == torch.float64 and 0 <= t.min() and t.max() <= 1
    lo, hi = (-mean_logsnr(process, torch.tensor([0.0, 1.0], dtype=torch.float64)) / 2).tolist()
    inside = (log_nu > lo + 1e-6) & (log_nu < hi - 1e-6)
    # EDM's range lies within the cosine schedule's; the soft schedule's mean-log-SNR range is narrower
    assert inside.float().mean() > (0.99 if schedule == "cosine" else 0.9)
    assert (t[log_nu <= lo] < 1e-9).all() and (t[log_nu >= hi] > 1 - 1e-9).all()
    back = -mean_logsnr(process, t) / 2  # ln ν̄(t)
    torch.testing.assert_close(back[inside], log_nu[inside], rtol=0, atol=1e-9)
    # levels beyond the process's range land on its ends
    ends, ln_ends = lognormal_times(process, torch.tensor([0.0, 1.0], dtype=torch.float64), -1.2, 1.2)
    assert ln_ends[0] < lo and ln_ends[1] > hi - 20  # Φ⁻¹(1e-12) = -7.03: far below ν̄(0)
    assert ends[0] < 1e-12
    far, _ = lognormal_times(process, torch.tensor([0.5], dtype=torch.float64), hi + 1.0, 1.0)
    assert far.item() > 1 - 1e-12
    # the drawn levels: mean and std of ln ν (stratified draws: errors far below the 1/√n Monte-Carlo scale)
    assert abs(log_nu.mean().item() + 1.2) < 5e-3 and abs(log_nu.std().item() - 1.2) < 5e-3
    # P_mean/P_std move them: a draw at u is p_mean + p_std Φ⁻¹(u)
    u = torch.tensor([0.5, 0.8413447460685429], dtype=torch.float64)
    _, ln = lognormal_times(process, u, 0.3, 2.0)
    torch.testing.assert_close(ln, torch.tensor([0.3, 2.3], dtype=torch.float64), rtol=0, atol=1e-9)


class _Zero(nn.Module):
    def forward(self, x_t, t, *, labels=None, z=None, extra=None):
        return torch.zeros_like(x_t)


def _den(prediction: str) -> Denoiser:
    return Denoiser(_Zero(), build_process(SHAPE, schedule="cosine"), prediction=prediction).double()


@pytest.mark.parametrize("prediction", ["x0", "eps", "v"])
def test_weighted_loss_is_the_weighted_per_component_error(prediction):
    den = _den(prediction)
    g = torch.Generator().manual_seed(2)
    x0 = gaussian_data()[:16].double()
    t = torch.rand(16, generator=g, dtype=torch.float64)
    eps = torch.randn(16, den.process.dim, generator=g, dtype=torch.float64)
    plain = regression_loss(den, x0, t, eps)
    weighted = regression_loss(den, x0, t, eps, min_snr_gamma=5.0)
    alpha, sigma = den.process.alpha_sigma(t)
    w = min_snr_weight(prediction, alpha, sigma, 5.0)[:, 0]  # scalar schedule: one weight per sample
    torch.testing.assert_close(weighted, (w * plain).to(weighted.dtype), rtol=1e-5, atol=1e-7)
    if prediction == "eps":  # γ above every SNR: the ε weight is 1
        big = regression_loss(den, x0, t, eps, min_snr_gamma=1e6)
        torch.testing.assert_close(big, plain, rtol=1e-6, atol=1e-7)


def test_defaults_leave_the_objective_unchanged():
    den = _den("v")
    x0 = gaussian_data()[:8].double()
    losses = []
    for train in (None, TrainConfig()):
        g = torch.Generator().manual_seed(3)
        losses.append(build_objective(MethodConfig(prediction="v"), train=train)(den, x0, None, g))
    assert torch.equal(losses[0], losses[1])
    # lognormal changes the times only (the same number of draws: the noise that follows is the same)
    g = torch.Generator().manual_seed(3)
    other = build_objective(MethodConfig(prediction="v"), train=TrainConfig(time_sampling="lognormal"))(
        den, x0, None, g
    )
    assert not torch.equal(other, losses[0]) and torch.isfinite(other).all()


def test_min_snr_is_refused_for_a_distributional_model():
    from difflab.config.loader import load_config
    from difflab.config.schema import RunConfig
    from difflab.errors import DifflabError
    from tests.helpers import ROOT

    with pytest.raises(DifflabError, match="loss_weight=min_snr") as err:
        load_config(
            RunConfig, ROOT / "configs" / "digits.yaml", ["method.kind=distributional", "train.loss_weight=min_snr"]
        )
    assert "\n" not in str(err.value)


def test_a_run_trains_with_lognormal_times_and_min_snr(tmp_path):
    from difflab.io import read_jsonl
    from difflab.pipeline import train_run
    from difflab.pipeline.run import LOG_NAME
    from tests.helpers import tiny_config

    options = ["train.time_sampling=lognormal", "train.loss_weight=min_snr", "train.min_snr_gamma=5", "train.steps=4"]
    cfg = tiny_config(*options)
    train_run(cfg, tmp_path / "run", progress=False)
    log = read_jsonl(tmp_path / "run" / LOG_NAME)
    assert log and all(r["loss"] > 0 for r in log)
