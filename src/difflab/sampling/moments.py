"""Exact output moments of a sampler driven by an affine denoiser (linear response).

With a Gaussian data distribution the exact denoiser (``GaussianOracle``) is
affine in x_t, and every sampler step here is affine in the state and in the
fresh noise. The sampler output is then ``x_0 = b + M w_T + Σ_k N_k ε_k`` with
``w_T, ε_k ~ N(0, I)`` independent, so

    E[x_0] = b,    Cov[x_0] = M Mᵀ + Σ_k N_k N_kᵀ,

and one batched run over *probe* inputs gives b, M and every N_k exactly: row 0
has all inputs zero, the next D rows put a unit vector into w_T, and the
remaining rows put a unit vector into the noise of one draw. This measures a
sampler's discretisation error without Monte-Carlo noise (testing by exact
oracles over eyeballing); the cost is a batch of ``1 + D + draws·D`` rows.
"""

from collections.abc import Callable

import torch
from torch import Tensor

from difflab.errors import DifflabError
from difflab.process.noise import PerSampleNoise
from difflab.process.process import Process


class ProbeNoise(PerSampleNoise):
    """A noise source whose k-th draw is a unit vector in the rows reserved for draw k.

    Rows ``offset + k·D + j`` receive ``e_j`` on draw ``k``; every other row gets 0.
    """

    def __init__(self, batch: int, dim: int, offset: int, draws: int):
        self.batch, self.dim, self.offset, self.draws, self.calls = batch, dim, offset, draws, 0
        self.seeds, self.generators, self.device = [], [], torch.device("cpu")

    def __len__(self) -> int:
        return self.batch

    def randn(self, shape, dtype=torch.float64, device=None) -> Tensor:
        if tuple(shape) != (self.batch, self.dim):
            raise DifflabError(f"probe noise serves ({self.batch}, {self.dim}) draws, got {tuple(shape)}")
        if self.calls >= self.draws:
            raise DifflabError(f"the sampler drew noise more than the {self.draws} times allowed; raise noise_draws")
        out = torch.zeros(self.batch, self.dim, dtype=torch.float64)
        start = self.offset + self.calls * self.dim
        out[start : start + self.dim] = torch.eye(self.dim, dtype=torch.float64)
        self.calls += 1
        return out.to(dtype=dtype, device=device)


def sampler_output_moments(
    sampler: Callable,
    denoiser: Callable,
    process: Process,
    times: Tensor,
    *,
    noise_draws: int | None = None,
    start: tuple[Tensor, Tensor] | None = None,
    **options,
) -> tuple[Tensor, Tensor]:
    """Exact mean and covariance of ``sampler``'s output for an affine ``denoiser``.

    Args:
        sampler: a sampler with the common signature.
        denoiser: an affine denoiser, e.g. a ``GaussianOracle`` (not a mixture).
        process: the forward process; the sampler starts from its prior N(0, I) in w.
        times: the time grid ``(n + 1,)``.
        noise_draws: how many times the sampler draws noise; ``None`` means one
            per step (``n``), 0 for deterministic samplers.
        start: ``(mean (D,), cov (D, D))`` of the whitened state at ``times[0]``;
            ``None`` is the prior N(0, I). Passing the exact marginal (e.g.
            ``GaussianOracle.white_marginal(times[0])``) separates the sampler's
            error from the prior mismatch α(1) ≠ 0.
        **options: passed to the sampler (e.g. ``eta``).

    Returns:
        ``(mean (D,), cov (D, D))`` of the output in data layout flattened, float64.

    Raises:
        DifflabError: if the denoiser turns out not to be affine (checked on one
            random extra row).
    """
    d = process.dim
    draws = len(times) - 1 if noise_draws is None else int(noise_draws)
    probes = 1 + d + draws * d
    w_T = torch.zeros(probes + 1, d, dtype=torch.float64)
    w_T[1 : 1 + d] = torch.eye(d, dtype=torch.float64)
    # One extra row with random inputs checks affinity: its output must be the
    # same combination of the probe responses.
    gen = torch.Generator().manual_seed(0)
    coef_w = torch.randn(d, generator=gen, dtype=torch.float64)
    coef_e = torch.randn(draws, d, generator=gen, dtype=torch.float64)
    w_T[probes] = coef_w
    noise = _CheckedProbeNoise(probes + 1, d, 1 + d, draws, coef_e)
    if start is not None:
        mean, cov = (torch.as_tensor(v, dtype=torch.float64).cpu() for v in start)
        vals, vecs = torch.linalg.eigh(cov)
        w_T = mean + w_T @ (vecs * vals.clamp_min(0).sqrt()).T
    x_T = process.from_white(w_T.to(process.scale.device))
    out = sampler(denoiser, process, x_T, times, noise=noise, **options).reshape(probes + 1, d).double().cpu()
    base, resp = out[0], out[1:probes] - out[0]
    predicted = base + coef_w @ resp[:d] + coef_e.reshape(-1) @ resp[d:]  # ε rows are in draw-major order
    scale = resp.abs().max().clamp_min(1.0)
    if (predicted - out[probes]).abs().max() > 1e-6 * scale:
        raise DifflabError("sampler_output_moments needs an affine denoiser (e.g. GaussianOracle, not a mixture)")
    return base, resp.T @ resp


class _CheckedProbeNoise(ProbeNoise):
    """Probe noise plus a last row carrying ``Σ_j coef[k, j] e_j`` on draw k."""

    def __init__(self, batch: int, dim: int, offset: int, draws: int, coef: Tensor):
        super().__init__(batch, dim, offset, draws)
        self.coef = coef

    def randn(self, shape, dtype=torch.float64, device=None) -> Tensor:
        k = self.calls
        out = super().randn(shape, dtype=torch.float64)
        out[-1] = self.coef[k]
        return out.to(dtype=dtype, device=device)
