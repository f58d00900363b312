"""Scoring-rule losses for distributional denoisers.

Implements the training losses of De Bortoli et al., *Distributional Diffusion
Models with Scoring Rules* (arXiv 2502.02483, ICML 2025). A distributional
denoiser draws m samples x̂_1..x̂_m ~ G(x_t, t, ξ) of the clean data per data
point x₀ (one batched forward pass upstream); the loss is an unbiased
U-statistic estimate of a proper scoring rule S(P_G, x₀):

* generalised energy score (strictly proper for λ = 1, β ∈ (0, 2))
  ``mean_j ‖x̂_j − x₀‖^β − λ/(2m(m−1)) Σ_{j≠j'} ‖x̂_j − x̂_j'‖^β``;
  λ = 0, β = 2 is the usual x₀ mean-squared error (summed over dimensions);
* kernel score ``(λ/2) E k(X, X') − E k(X, x₀)`` with an RBF, IMQ or exponential kernel;
  for λ = 1 its expectation over x₀ ~ Q is ½ MMD²(P, Q) − ½ E_Q k(Y, Y').

Beside this *conditional* score (one x_t per data point, m draws compared with its own x₀)
two batch-level forms of the energy score are offered (:func:`joint_energy_score`,
:func:`marginal_energy_score`); they pair draws *across* the batch, so m = 1 is allowed:

* joint: the energy score of the pairs (x̂₀, c) against (x₀, c), c = (x_t, t) the conditioning.
  Matching the joint law with the true marginal of c fixed identifies the conditional too;
* marginal: the energy score of the pooled draws against the pooled data. It only matches
  the law of x̂₀ mixed over all x_t: a generator that ignores x_t can be optimal. A negative
  control for the posterior check (``metrics/posterior.py``), not a method.

**Diffusion compatibility of the kernel.** RBF and IMQ are smooth functions of the squared
distance: as h → ∞, k = 1 − d²/2h² + O(h⁻⁴), so 2h² × (kernel score − (λ/2 − 1)) tends to the
β = 2 energy score, the x₀ MSE at λ = 0, i.e. the usual diffusion loss. The exponential kernel
exp(−d/h) is 1 − d/h + O(h⁻²): the same limit gives the β = 1 energy score, never the MSE
(its derivative in d² is infinite at 0). Tests check both limits. This is our reading of the
paper's "diffusion-compatible" (Prop. 4.3 there); the equation itself was not re-read offline.

All losses are unreduced, shape ``(B,)``; the trainer reduces them. Norms are
taken on the flattened data, computed directly from differences (a Gram
expansion ‖a‖² + ‖b‖² − 2⟨a, b⟩ cancels catastrophically and can go negative),
in at least float32. The pairwise term materialises ``(B, m(m−1)/2, D)``
differences: memory grows quadratically in m.
"""

import inspect
from collections.abc import Callable
from typing import Any, Literal

import torch
from torch import Tensor

from difflab.errors import DifflabError

__all__ = [
    "energy_score",
    "joint_energy_score",
    "kernel_score",
    "marginal_energy_score",
    "scoring_loss",
]

KernelName = Literal["rbf", "imq", "exp"]


def _check_inputs(samples: Tensor, target: Tensor, lam: float) -> tuple[Tensor, Tensor]:
    """Validate shapes and flatten to ``(B, m, D)`` and ``(B, D)`` in ≥ float32."""
    if not isinstance(samples, Tensor) or not isinstance(target, Tensor):
        raise DifflabError("samples and target must be torch.Tensors")
    if samples.ndim < 3:
        raise DifflabError(
            f"samples must be shaped (B, m, *shape) with m samples per data point, got {tuple(samples.shape)}"
        )
    if samples.shape[0] != target.shape[0] or samples.shape[2:] != target.shape[1:]:
        raise DifflabError(
            f"samples {tuple(samples.shape)} do not match target {tuple(target.shape)}; "
            "expected samples (B, m, *shape) and target (B, *shape)"
        )
    if not 0.0 <= lam <= 1.0:
        raise DifflabError(f"lam must lie in [0, 1], got {lam}")
    if samples.shape[1] < 2 and lam != 0.0:
        raise DifflabError(
            f"the interaction term needs m >= 2 samples per data point, got m = {samples.shape[1]}; "
            "draw more generator samples or set lam = 0"
        )
    # Half precision loses too much in sums of squares over thousands of pixels.
    dtype = torch.promote_types(torch.promote_types(samples.dtype, target.dtype), torch.float32)
    return samples.flatten(2).to(dtype), target.flatten(1).to(dtype)


def _pair_index(m: int, device: torch.device) -> tuple[Tensor, Tensor]:
    """Indices (i, j) of the m(m−1)/2 unordered pairs i < j."""
    idx = torch.triu_indices(m, m, offset=1, device=device)
    return idx[0], idx[1]


def _squared_distances(s: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
    """Squared Euclidean distances from differences.

    Args:
        s: samples ``(B, m, D)``.
        y: targets ``(B, D)``.

    Returns:
        ``(d2_target, d2_pairs)``: ``(B, m)`` sample-to-target and
        ``(B, m(m−1)/2)`` sample-to-sample (i < j) squared distances.
    """
    d2_target = (s - y[:, None]).square().sum(-1)
    i, j = _pair_index(s.shape[1], s.device)
    d2_pairs = (s[:, i] - s[:, j]).square().sum(-1)
    return d2_target, d2_pairs


def _safe_pow(d2: Tensor, beta: float, eps: float) -> Tensor:
    """‖·‖^β = (d²)^(β/2) with a finite gradient at d² = 0.

    For β < 2 the derivative of (d²)^(β/2) is infinite at zero, so d² is
    clamped at ``eps`` first: distances below √eps count as √eps and pass no
    gradient (there is none to pass where two points coincide). β = 2 is
    returned untouched so the MSE special case is exact.
    """
    if beta == 2.0:
        return d2
    return d2.clamp_min(eps).pow(beta / 2)


def energy_score(samples: Tensor, target: Tensor, *, beta: float = 1.0, lam: float = 1.0, eps: float = 1e-8) -> Tensor:
    """Generalised energy score, unbiased over the m samples (U-statistic).

    ``mean_j ‖x̂_j − x₀‖^β − λ/(2m(m−1)) Σ_{j≠j'} ‖x̂_j − x̂_j'‖^β``, norms on
    the flattened data. λ = 0, β = 2 equals the x₀ squared error summed over
    dimensions and averaged over the m samples.

    Args:
        samples: generator samples ``(B, m, *shape)``.
        target: data ``(B, *shape)``.
        beta: distance exponent in (0, 2]; strictly proper for β < 2 with λ = 1.
        lam: interaction weight in [0, 1]; λ = 1 is proper, λ = 0 ignores spread.
        eps: clamp on squared distances before fractional powers (β < 2).

    Returns:
        Per-sample loss ``(B,)``.

    Raises:
        DifflabError: mismatched shapes, β or λ out of range, eps ≤ 0, or
            m < 2 with λ > 0.
    """
    if not 0.0 < beta <= 2.0:
        raise DifflabError(f"beta must lie in (0, 2], got {beta}")
    if eps <= 0.0:
        raise DifflabError(f"eps must be positive, got {eps}")
    s, y = _check_inputs(samples, target, lam)
    d2_target, d2_pairs = _squared_distances(s, y)
    confinement = _safe_pow(d2_target, beta, eps).mean(1)
    if lam == 0.0:
        return confinement
    # Σ_{j≠j'} counts each unordered pair twice: λ/(2m(m−1))·2·Σ_{i<j} = (λ/2)·mean_{i<j}.
    interaction = _safe_pow(d2_pairs, beta, eps).mean(1)
    return confinement - 0.5 * lam * interaction


def median_bandwidth(samples: Tensor, target: Tensor) -> Tensor:
    """Median heuristic: the median of all sample–sample and sample–target distances.

    One bandwidth for the whole batch, detached (it is a hyper-parameter, not
    something to optimise), clamped away from zero.

    Args:
        samples: ``(B, m, *shape)``.
        target: ``(B, *shape)``.

    Returns:
        Scalar tensor.
    """
    s, y = _check_inputs(samples, target, lam=0.0)
    with torch.no_grad():
        d2_target, d2_pairs = _squared_distances(s.detach(), y.detach())
        d2 = torch.cat([d2_target.flatten(), d2_pairs.flatten()])
        return d2.median().clamp_min(1e-12).sqrt()


def _kernel(d2: Tensor, kernel: KernelName, bandwidth: Tensor | float) -> Tensor:
    """K as a function of the squared distance, normalised so k(x, x) = 1."""
    if kernel == "rbf":
        return torch.exp(-d2 / (2 * bandwidth**2))
    if kernel == "exp":  # exp(−‖x − x′‖/h); clamped so the gradient at d = 0 is finite
        return torch.exp(-_safe_pow(d2, 1.0, 1e-12) / bandwidth)
    return torch.rsqrt(1 + d2 / bandwidth**2)  # inverse multiquadric


def kernel_score(
    samples: Tensor, target: Tensor, *, kernel: KernelName = "rbf", bandwidth: float | None = 1.0, lam: float = 1.0
) -> Tensor:
    """Kernel score ``(λ/2) E k(X, X') − E k(X, x₀)``, U-statistic over j ≠ j'.

    Kernels on flattened data, with bandwidth h in the data's units:
    RBF ``exp(−‖x − x'‖² / 2h²)``, IMQ ``(1 + ‖x − x'‖² / h²)^(−1/2)``,
    exponential ``exp(−‖x − x'‖ / h)`` (not diffusion-compatible: see the module docstring).
    With λ = 1 the expected score under x₀ ~ Q is ½ MMD²(P, Q) minus the
    constant ½ E_Q k(Y, Y'), so it is proper (strictly for these kernels).

    Scaling with dimension: squared distances between noisy points grow like
    D (about 2Dσ² for per-pixel spread σ), so a fixed h that suits 2-D data
    makes every RBF value vanish on images and the gradient with it. Scale h
    like √D, or pass ``bandwidth=None`` for the median heuristic (one h per
    batch, see :func:`median_bandwidth`).

    Args:
        samples: generator samples ``(B, m, *shape)``.
        target: data ``(B, *shape)``.
        kernel: ``"rbf"``, ``"imq"`` or ``"exp"``.
        bandwidth: h > 0, or None for the median heuristic.
        lam: interaction weight in [0, 1].

    Returns:
        Per-sample loss ``(B,)``.

    Raises:
        DifflabError: mismatched shapes, unknown kernel, h ≤ 0, λ out of
            range, or m < 2 with λ > 0.
    """
    if kernel not in ("rbf", "imq", "exp"):
        raise DifflabError(f"unknown kernel {kernel!r}; choose 'rbf', 'imq' or 'exp'")
    if bandwidth is not None and not bandwidth > 0.0:
        raise DifflabError(f"bandwidth must be positive (or None for the median heuristic), got {bandwidth}")
    s, y = _check_inputs(samples, target, lam)
    h = median_bandwidth(samples, target) if bandwidth is None else bandwidth
    d2_target, d2_pairs = _squared_distances(s, y)
    score = -_kernel(d2_target, kernel, h).mean(1)
    if lam == 0.0:
        return score
    # Symmetric kernel: the mean over j ≠ j' equals the mean over unordered pairs.
    return score + 0.5 * lam * _kernel(d2_pairs, kernel, h).mean(1)


def _pool_pairs(z: Tensor, beta: float, eps: float) -> Tensor:
    """``(N,)``: for each row of ``z (N, D)``, the mean of ‖z_i − z_k‖^β over the other rows k ≠ i."""
    # cdist without the matmul shortcut: distances from differences, no Gram cancellation.
    d2 = torch.cdist(z, z, compute_mode="donot_use_mm_for_euclid_dist").square()
    p = _safe_pow(d2, beta, eps)
    n = z.shape[0]
    return (p.sum(1) - p.diagonal()) / (n - 1)


def _check_batch(samples: Tensor, target: Tensor, beta: float, lam: float, eps: float) -> tuple[Tensor, Tensor]:
    if not 0.0 < beta <= 2.0:
        raise DifflabError(f"beta must lie in (0, 2], got {beta}")
    if eps <= 0.0:
        raise DifflabError(f"eps must be positive, got {eps}")
    s, y = _check_inputs(samples, target, 0.0)  # m = 1 is fine: pairs run across the batch
    if s.shape[0] * s.shape[1] < 2 and lam != 0.0:
        raise DifflabError("the batch interaction term needs at least 2 draws in the batch")
    if not 0.0 <= lam <= 1.0:
        raise DifflabError(f"lam must lie in [0, 1], got {lam}")
    return s, y


def joint_energy_score(
    samples: Tensor, target: Tensor, cond: Tensor, *, beta: float = 1.0, lam: float = 1.0, eps: float = 1e-8
) -> Tensor:
    """Energy score of the joint law of (x̂₀, c) at the batch's pairs (x₀, c); per-row terms ``(B,)``.

    Row i contributes ``mean_j ‖x̂_ij − x₀_i‖^β − (λ/2) mean_j mean_{(k,l) ≠ (i,j)} ‖(x̂_ij, c_i) − (x̂_kl, c_k)‖^β``
    (the confinement's c cancels: each draw is paired with its own data point). The batch
    mean is an unbiased estimate of the energy score of the joint law P(x̂₀ | c) p(c) at
    (x₀, c) ~ p. With one data point (B = 1) it equals :func:`energy_score`.

    Args:
        samples: ``(B, m, *shape)``, m >= 1.
        target: ``(B, *shape)``.
        cond: the conditioning of each data point ``(B, C)`` (e.g. whitened x_t and t).
        beta: distance exponent in (0, 2].
        lam: interaction weight in [0, 1].
        eps: clamp on squared distances before fractional powers.
    """
    s, y = _check_batch(samples, target, beta, lam, eps)
    b, m = s.shape[:2]
    if cond.ndim != 2 or cond.shape[0] != b:
        raise DifflabError(f"cond must be shaped (B, C) with B = {b}, got {tuple(cond.shape)}")
    confinement = _safe_pow((s - y[:, None]).square().sum(-1), beta, eps).mean(1)
    if lam == 0.0:
        return confinement
    c = cond.to(s.dtype)[:, None].expand(b, m, cond.shape[1])
    z = torch.cat([s, c], dim=-1).reshape(b * m, -1)
    return confinement - 0.5 * lam * _pool_pairs(z, beta, eps).reshape(b, m).mean(1)


def marginal_energy_score(
    samples: Tensor, target: Tensor, *, beta: float = 1.0, lam: float = 1.0, eps: float = 1e-8
) -> Tensor:
    """Energy score of the pooled draws against the pooled data; per-row terms ``(B,)``.

    Row i contributes ``mean_j mean_k ‖x̂_ij − x₀_k‖^β − (λ/2) mean_j mean_{(k,l) ≠ (i,j)} ‖x̂_ij − x̂_kl‖^β``:
    every draw is compared with every data point of the batch, so only the law of x̂₀ mixed
    over the batch's x_t is matched. With B = 1 it equals :func:`energy_score`.

    Args: as :func:`energy_score` (m >= 1).
    """
    s, y = _check_batch(samples, target, beta, lam, eps)
    b, m = s.shape[:2]
    pooled = s.reshape(b * m, -1)
    d2 = torch.cdist(pooled, y, compute_mode="donot_use_mm_for_euclid_dist").square()
    confinement = _safe_pow(d2, beta, eps).mean(1).reshape(b, m).mean(1)
    if lam == 0.0:
        return confinement
    return confinement - 0.5 * lam * _pool_pairs(pooled, beta, eps).reshape(b, m).mean(1)


_RULES: dict[str, Callable[..., Tensor]] = {"energy": energy_score, "kernel": kernel_score}


def scoring_loss(samples: Tensor, target: Tensor, *, rule: Literal["energy", "kernel"], **kw: Any) -> Tensor:
    """Dispatch to :func:`energy_score` or :func:`kernel_score` by name.

    Args:
        samples: ``(B, m, *shape)``.
        target: ``(B, *shape)``.
        rule: ``"energy"`` or ``"kernel"``.
        **kw: keyword options of the chosen rule.

    Returns:
        Per-sample loss ``(B,)``.
    """
    if rule not in _RULES:
        raise DifflabError(f"unknown scoring rule {rule!r}; choose one of {sorted(_RULES)}")
    fn = _RULES[rule]
    allowed = [p for p in inspect.signature(fn).parameters if p not in ("samples", "target")]
    unknown = sorted(set(kw) - set(allowed))
    if unknown:
        raise DifflabError(f"unknown option(s) {unknown} for rule {rule!r}; allowed: {allowed}")
    return fn(samples, target, **kw)
