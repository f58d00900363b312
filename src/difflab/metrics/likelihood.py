"""Log-likelihood through the probability-flow ODE, for GUD's component-wise process.

Song et al., "Score-Based Generative Modeling through SDEs" (arXiv 2011.13456), §4.3 and
App. D.2; the process is GUD's (Gerdes, Welling, Cheng, arXiv 2410.02667). In whitened
components ``w = S⁻¹ U x`` every component follows ``dw_i = −½ β_i w_i dt + √β_i dW_i``, whose
probability-flow ODE is

    dw_i/dt = f_i(w, t) = −½ β_i(t) (w_i + s_i(w, t)),   s = ∇ log p_t(w) = −(w − α ŵ₀(w, t)) / σ²,

with ŵ₀ the model's denoiser (Tweedie). The instantaneous change of variables gives

    log p_0(w(0)) = log p_1(w(1)) + ∫₀¹ ∇·f(w(t), t) dt,
    ∇·f = −½ Σ_i β_i (1 − 1/σ_i²) − ½ Σ_i (β_i α_i / σ_i²) ∂ŵ₀_i/∂w_i.

``p_1`` is the process's prior N(0, I) in whitened components (white or data-matched prior,
any basis). The ODE runs forward from the data at ``t0`` to ``t1 = 1`` with scipy's adaptive
``solve_ivp`` (RK45 by default, rtol = atol = 1e-5 as in Song et al.) on the flattened float64
state of the whole batch. The divergence is exact (D vector-Jacobian products in one batched
backward pass) when D ≤ ``exact_max_dim`` and otherwise a Hutchinson estimate with ``probes``
Rademacher vectors, fixed along the trajectory; the spread over probes gives its standard error.

Spaces. The density is returned for the *normalised* data layout ``x = Uᵀ S w``:
``log p(x) = log p_0(w) − Σ_i log S_i``. :func:`bits_per_dim` adds the data normaliser
(``x_norm = (x_raw − shift) / scale``: ``+ Σ_j log scale_j`` nats) and, for discrete data,
uniform dequantisation (see there). ``p_0`` is the density of the process at ``t0`` (the data
convolved with the tiny noise σ(t0)), which is what the PF-ODE defines; with ``t0 = 0`` and the
usual γ(0) ≈ −13 this differs from the data density by O(σ(0)²).

A batch shares the adaptive steps, so a sample's value depends on its batch within the
solver tolerance only.

Deterministic components (``process.deterministic_tol``: e.g. digits' constant border pixels) are
known exactly, so the model is a point mass there and a density only over the D_a active
components. The input is projected onto that support (the deterministic components set to their
value), the ODE, the divergence, the prior and the log-determinants run over the active components,
and bits/dim is per *active* dimension: the deterministic dimensions cost 0 bits for data that take
their constant value (:func:`bits_per_dim` counts the samples that do not, ``off_support``).
"""

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from scipy.integrate import solve_ivp
from torch import Tensor

from difflab.data.base import Normaliser
from difflab.errors import DifflabError
from difflab.process.noise import PerSampleNoise, sample_seeds
from difflab.process.process import Process

Denoiser = Callable[..., Tensor]
DEQUANT_OFFSET = 7919  # noise-stream offsets of the dequantisation draws and the probes (apart from sampler noise)
PROBE_OFFSET = 7927


@dataclass
class ODELikelihood:
    """Per-sample result of :func:`ode_log_likelihood`.

    Attributes:
        log_px: ``(B,)`` log-density of the normalised data layout, nats.
        log_prior: ``(B,)`` log p_1(w(1)) under the prior, nats.
        delta: ``(B,)`` ∫ ∇·f dt, nats.
        probe_se: ``(B,)`` standard error of ``log_px`` from the Hutchinson probes (0 when exact).
        exact: whether the divergence was exact.
        nfe: vector-field evaluations (each one batched forward + backward pass).
        dim: D_a, the active components (D unless the process has deterministic ones).
    """

    log_px: Tensor
    log_prior: Tensor
    delta: Tensor
    probe_se: Tensor
    exact: bool
    nfe: int
    dim: int


def standard_normal_logpdf(w: Tensor) -> Tensor:
    """Log N(w; 0, I) for ``w`` ``(B, D)``, ``(B,)``."""
    return -0.5 * (w**2).sum(1) - 0.5 * w.shape[1] * math.log(2 * math.pi)


def _white_x0(denoiser: Denoiser, process: Process, w: Tensor, t: float, dtype: torch.dtype, cond: Mapping) -> Tensor:
    x = process.from_white(w).to(dtype)
    tt = torch.full((w.shape[0],), t, dtype=torch.float64, device=w.device)
    x0 = denoiser(x, tt, **cond)
    if not torch.isfinite(x0).all():
        raise DifflabError(f"the denoiser returned NaN/Inf at t={t:.4g} during the likelihood ODE")
    return process.to_white(x0.to(torch.float64))


def ode_log_likelihood(
    denoiser: Denoiser,
    process: Process,
    x: Tensor,
    *,
    cond: Mapping[str, Tensor] | None = None,
    divergence: str = "auto",
    exact_max_dim: int = 256,
    probes: int = 4,
    seed: int = 0,
    seeds: Sequence[int] | None = None,
    rtol: float = 1e-5,
    atol: float = 1e-5,
    method: str = "RK45",
    t0: float = 0.0,
    t1: float = 1.0,
    dtype: torch.dtype = torch.float32,
    max_rows: int = 8192,
    prior_logpdf: Callable[[Tensor], Tensor] | None = None,
) -> ODELikelihood:
    """Log p(x) of normalised data ``x`` ``(B, *shape)`` under the model's probability-flow ODE.

    Args:
        denoiser: ``denoiser(x_t, t, **cond) -> x̂₀`` in data layout, differentiable in ``x_t``.
        process: the forward process (basis, prior scale, schedule).
        x: data ``(B, *shape)`` in the normalised space the model was trained on.
        cond: per-sample conditioning ``(B, ...)`` passed to the denoiser.
        divergence: ``exact``, ``hutchinson`` or ``auto`` (exact when D ≤ ``exact_max_dim``).
        exact_max_dim: largest D for ``auto`` to take the exact divergence.
        probes: Rademacher probes per sample for ``hutchinson`` (≥ 2, for a standard error).
        seed: seeds the probes, per sample (sample i's probes depend on ``(seed, i)`` alone).
        seeds: explicit per-sample probe seeds (``B`` of them) instead of ``seed``.
        rtol: relative tolerance of the solver.
        atol: absolute tolerance of the solver.
        method: a ``scipy.integrate.solve_ivp`` method (``RK45``, ``DOP853``, ...).
        t0: start of the integration (the data end), ``0 ≤ t0 < t1``.
        t1: end of the integration (the prior end), ``≤ 1``.
        dtype: dtype the denoiser is called in (float64 for exact oracles).
        max_rows: largest batch of replicated rows per forward/backward pass.
        prior_logpdf: log-density of w(1) ``(B, D_a) -> (B,)`` (the active components); default the
            process prior N(0, I).

    Returns:
        :class:`ODELikelihood` with per-sample values.
    """
    if tuple(x.shape[1:]) != tuple(process.shape) or x.shape[0] < 1:
        raise DifflabError(f"x must be shaped (B, {', '.join(map(str, process.shape))}), got {tuple(x.shape)}")
    if not 0.0 <= t0 < t1 <= 1.0:
        raise DifflabError(f"need 0 <= t0 < t1 <= 1, got t0={t0}, t1={t1}")
    if divergence not in ("auto", "exact", "hutchinson"):
        raise DifflabError(f"divergence must be 'auto', 'exact' or 'hutchinson', got {divergence!r}")
    d, b = process.dim, x.shape[0]
    exact = divergence == "exact" or (divergence == "auto" and d <= exact_max_dim)
    if not exact and probes < 2:
        raise DifflabError(f"hutchinson needs probes >= 2 for a standard error, got {probes}")
    device = process.scale.device
    cond = {k: v.to(device) for k, v in (cond or {}).items() if v is not None}
    active = process.active
    live = torch.ones(d, dtype=torch.bool, device=device) if active is None else active.to(device)
    if exact:  # one unit vector per active component: deterministic ones have ∂ŵ₀/∂w = 0
        eye = torch.eye(d, dtype=torch.float64, device=device)[live]
        vecs = eye.repeat(b, 1).reshape(b, eye.shape[0], d)  # (B, R=D_a, D)
    else:
        seeds = sample_seeds(seed, b, offset=PROBE_OFFSET) if seeds is None else list(seeds)
        if len(seeds) != b:
            raise DifflabError(f"seeds must have one entry per sample ({b}), got {len(seeds)}")
        gens = PerSampleNoise(seeds, device=device)
        vecs = torch.stack([(torch.randint(0, 2, (probes, d), generator=g) * 2 - 1) for g in gens.generators])
        vecs = vecs.to(device=device, dtype=torch.float64) * live.to(torch.float64)  # (B, K, D)
    r = vecs.shape[1]
    k_out = 1 if exact else r
    rows_per = max(1, max_rows // r)  # samples per forward/backward chunk
    nfe = 0

    def field(t: float, w: Tensor) -> tuple[Tensor, Tensor]:
        """f(w, t) ``(B, D)`` and the probe terms ``(B, k_out)`` of the divergence."""
        alpha, sigma = process.alpha_sigma(torch.tensor(t, dtype=torch.float64))
        beta = process.beta(torch.tensor(t, dtype=torch.float64))
        alpha, sigma, beta = (c.to(device) for c in (alpha, sigma, beta))
        weight = beta * alpha / sigma**2  # (D,)
        w0_all, q_all = [], []
        for lo in range(0, b, rows_per):
            hi = min(b, lo + rows_per)
            rep = w[lo:hi].repeat_interleave(r, 0).detach().requires_grad_(True)  # ((hi-lo) R, D)
            c = {k: v[lo:hi].repeat_interleave(r, 0) for k, v in cond.items()}
            with torch.enable_grad():
                w0 = _white_x0(denoiser, process, rep, t, dtype, c)
                v = vecs[lo:hi].reshape(-1, d)
                (g,) = torch.autograd.grad((w0 * (v * weight)).sum(), rep)  # rows: vᵀ C J
            q = (g * v).sum(1).reshape(hi - lo, r)  # vᵀ C J v per probe
            q_all.append(q.sum(1, keepdim=True) if exact else q)
            w0_all.append(w0.detach().reshape(hi - lo, r, d)[:, 0])
        w0, q = torch.cat(w0_all), torch.cat(q_all)
        score = Process.x0_to_score(w, w0, alpha, sigma)
        f = -0.5 * beta * (w + score)
        const = -0.5 * (beta * (1 - 1 / sigma**2))[live].sum()
        return f, const - 0.5 * q

    def rhs(t: float, y: np.ndarray) -> np.ndarray:
        nonlocal nfe
        nfe += 1
        w = torch.from_numpy(y[: b * d]).to(device).reshape(b, d)
        f, div = field(float(t), w)
        return np.concatenate([f.detach().cpu().numpy().ravel(), div.detach().cpu().numpy().ravel()])

    w_start = process.pin(process.to_white(x.to(device=device, dtype=torch.float64)))  # onto the support
    y0 = np.concatenate([w_start.cpu().numpy().ravel(), np.zeros(b * k_out)])
    sol = solve_ivp(rhs, (t0, t1), y0, method=method, rtol=rtol, atol=atol)
    if not sol.success:
        raise DifflabError(f"the likelihood ODE failed ({sol.message}); try a looser rtol/atol or another method")
    y1 = torch.from_numpy(sol.y[:, -1])
    w1 = y1[: b * d].reshape(b, d)
    deltas = y1[b * d :].reshape(b, k_out)
    live = live.cpu()
    log_prior = (prior_logpdf or standard_normal_logpdf)(w1[:, live])
    delta = deltas.mean(1)
    probe_se = torch.zeros(b, dtype=torch.float64) if exact else deltas.std(1) / math.sqrt(k_out)
    log_det = process.scale.detach().double().cpu()[live].log().sum()  # w = S⁻¹ U x: |det| = Π S_i⁻¹
    return ODELikelihood(
        log_px=log_prior + delta - log_det,
        log_prior=log_prior,
        delta=delta,
        probe_se=probe_se,
        exact=exact,
        nfe=nfe,
        dim=int(live.sum()),
    )


def normaliser_log_det(normaliser: Normaliser, shape: tuple[int, ...]) -> float:
    """Σ_j log scale_j over one example of ``shape``: log |det ∂x_norm/∂x_raw|⁻¹, nats."""
    scale = np.broadcast_to(np.asarray(normaliser.scale, dtype=np.float64), shape)
    return float(np.log(scale).sum())


def active_normaliser_log_det(normaliser: Normaliser, process: Process) -> float:
    """Σ log scale over the active subspace of ``process``: −log |det| of x_raw ↦ x_norm restricted to it.

    With no deterministic components this is :func:`normaliser_log_det`. Otherwise V (the active
    components' basis vectors in data layout, orthonormal rows) gives −log det(V diag(1/scale) Vᵀ),
    exact when the subspace is invariant under the per-pixel scale (always for a scalar scale).
    """
    active = process.active
    if active is None:
        return normaliser_log_det(normaliser, process.shape)
    eye = torch.eye(process.dim, dtype=torch.float64, device=process.scale.device)[active.to(process.scale.device)]
    v = process.basis.from_components(eye).reshape(eye.shape[0], -1).cpu()
    inv = torch.from_numpy(np.broadcast_to(1.0 / np.asarray(normaliser.scale, dtype=np.float64), process.shape).copy())
    return -float(torch.linalg.slogdet(v @ (inv.reshape(-1, 1) * v.T))[1])


def bits_per_dim(
    denoiser: Denoiser,
    process: Process,
    x: Tensor,
    normaliser: Normaliser,
    *,
    quantum: float | None = None,
    seed: int = 0,
    batch_size: int = 64,
    **options,
) -> dict:
    """Bits per dimension of normalised data ``x`` ``(N, *shape)`` in the data's original units.

    Continuous data (``quantum=None``): ``bpd = −(log p(x_norm) − Σ_j log scale_j) / (D ln 2)``, the
    density of the original units (the normaliser's change of variables).

    Discrete data on a grid of step ``quantum`` (original units; digits: 1, 8-bit images in
    [0, 1]: 1/255): centred uniform dequantisation ``x̃ = x_raw + quantum (u − ½)``, u ~ U[0, 1)^D
    (one draw per sample, seeded by ``(seed, i)``), and ``bpd = −(log p(x̃) + D log quantum) / (D ln 2)``,
    an upper bound on the discrete model's −log₂ P(x) / D (Theis et al. 2016; Ho et al. 2019).

    With deterministic components (``process.deterministic_tol``) D is D_a, the active components:
    the value is −log₂ p(x̃_active) / D_a, the deterministic dimensions costing 0 bits for samples at
    their constant value (``off_support`` counts those that are not; the model gives them probability 0).
    The dequantisation term D_a log quantum is exact when the active subspace is spanned by pixels
    (constant pixels in the pixel or PCA basis).

    Args:
        denoiser: the model's denoiser (see :func:`ode_log_likelihood`).
        process: its forward process.
        x: normalised data ``(N, *shape)``.
        normaliser: the dataset's normaliser.
        quantum: grid step of discrete data in original units, ``None`` for continuous data.
        seed: seeds dequantisation and Hutchinson probes.
        batch_size: samples per ODE solve.
        **options: passed to :func:`ode_log_likelihood` (``divergence``, ``rtol``, ``probes``, ...).

    Returns:
        JSON-safe dict: ``bits_per_dim`` (mean), ``bits_per_dim_se`` (standard error of the mean
        over samples, probe noise included), ``probe_se`` (the part due to probes), ``n``,
        ``divergence``, ``dequantisation``, ``nfe`` (mean per solve), ``per_sample`` list, ``dims``
        (D_a) and ``deterministic_dims`` (D − D_a), ``off_support`` (samples off the deterministic values).
    """
    n, d = x.shape[0], process.active_dim
    if quantum is not None and not quantum > 0:
        raise DifflabError(f"quantum must be > 0 (the grid step of discrete data), got {quantum}")
    x = x.to(torch.float64)
    off_support = 0
    if process.active is not None:
        w = process.to_white(x.to(process.scale.device))[:, process.deterministic]
        off_support = int((w.abs() > 1e-6).any(1).sum())
    if quantum is not None:
        raw = normaliser.decode(x, clamp=False)
        u = PerSampleNoise(sample_seeds(seed, n, offset=DEQUANT_OFFSET)).generators
        u = torch.stack([torch.rand(x.shape[1:], generator=g, dtype=torch.float64) for g in u])
        x = normaliser.encode(raw + quantum * (u - 0.5))
    log_scale = active_normaliser_log_det(normaliser, process)
    offset = log_scale - (d * math.log(quantum) if quantum is not None else 0.0)
    per, se2, nfes, exact = [], [], [], True
    probe_seeds = sample_seeds(seed, n, offset=PROBE_OFFSET)
    for lo in range(0, n, batch_size):
        hi = min(n, lo + batch_size)
        res = ode_log_likelihood(denoiser, process, x[lo:hi], seeds=probe_seeds[lo:hi], **options)
        per.append((-(res.log_px - offset)) / (d * math.log(2)))
        se2.append((res.probe_se / (d * math.log(2))) ** 2)
        nfes.append(res.nfe)
        exact = res.exact
    bpd = torch.cat(per)
    probe_se = float(torch.cat(se2).sum().sqrt() / n)
    sample_se = float(bpd.std() / math.sqrt(n)) if n > 1 else float("nan")
    return {
        "bits_per_dim": float(bpd.mean()),
        "bits_per_dim_se": sample_se,
        "probe_se": probe_se,
        "n": n,
        "divergence": "exact" if exact else f"hutchinson ({options.get('probes', 4)} Rademacher probes)",
        "dequantisation": "none (continuous)" if quantum is None else f"uniform, centred, step {quantum:g}",
        "nfe": float(np.mean(nfes)),
        "per_sample": [float(v) for v in bpd],
        "dims": d,
        "deterministic_dims": process.dim - d,
        "off_support": off_support,
    }
