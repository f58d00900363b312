"""Does a generator sample the posterior p(x₀ | x_t)? A per-x_t two-sample check against exact draws.

De Bortoli et al. (arXiv 2502.02483) train G(x_t, t, ξ) so that its outputs are samples of
p(x₀ | x_t), not of the marginal p₀ and not the posterior mean. Marginal sample quality cannot
tell these apart; this check can, where exact posterior draws exist (a Gaussian mixture:
``process/oracles.py::GMMOracle.posterior_sample``). For each conditioning point x_t it compares
n model draws with n exact draws by the energy distance and the RBF MMD² (``metrics/kernels.py``),
next to two references on the same exact set:

* ``floor``: a second, independent exact set (what a perfect sampler scores: the estimator's noise);
* ``point``: n copies of one point, e.g. the posterior mean E[x₀ | x_t] (what a regression model's
  prediction is, seen as a distribution).

The MMD bandwidth of each x_t is the median distance within its two exact sets pooled, shared by all
three comparisons so that they are on one scale. ``var_ratio`` is tr Cov(model) / tr Cov(exact):
below 1 the generator is under-dispersed (collapsing towards the mean).
"""

from collections.abc import Callable

import numpy as np
import torch
from torch import Tensor

from difflab.errors import DifflabError
from difflab.metrics.kernels import energy_distance, median_bandwidth, mmd_rbf

Draw = Callable[[Tensor, Tensor], Tensor]  # (x_t (B, *shape), t (B,)) -> one x₀ draw per row (B, *shape)


def _draws(draw: Draw, x_t: Tensor, t: float, n: int) -> np.ndarray:
    """``n`` draws for each of the K rows of ``x_t``, as float64 ``(K, n, D)``."""
    rep = x_t.repeat_interleave(n, dim=0)
    with torch.no_grad():
        out = draw(rep, torch.full((rep.shape[0],), float(t), dtype=x_t.dtype, device=x_t.device))
    return out.detach().to("cpu", torch.float64).reshape(x_t.shape[0], n, -1).numpy()


def posterior_fit(
    model: Draw,
    exact: Draw,
    x_t: Tensor,
    t: float,
    *,
    n: int = 256,
    point: Draw | None = None,
) -> dict[str, np.ndarray]:
    """Per-x_t energy distance and MMD² between model draws and exact posterior draws, with references.

    Args:
        model: the generator under test, one draw per row (e.g. ``lambda x, t: G(x, t, xi=randn)``).
        exact: an exact posterior sampler, one draw per row (``oracle.posterior_sample``).
        x_t: K conditioning points ``(K, *shape)``.
        t: their time.
        n: draws per x_t from each sampler (n >= 2).
        point: a point predictor ``(x_t, t) -> x̂₀`` (a regression model, or the exact posterior mean);
            scored as the point mass at its output.

    Returns:
        float64 arrays ``(K,)``: ``energy``, ``energy_floor``, ``mmd``, ``mmd_floor``, ``var_ratio``,
        and with ``point`` also ``energy_point`` and ``mmd_point``.
    """
    if n < 2:
        raise DifflabError(f"posterior_fit needs n >= 2 draws per x_t, got {n}")
    if x_t.ndim < 2 or x_t.shape[0] < 1:
        raise DifflabError(f"x_t must be shaped (K, *shape) with K >= 1, got {tuple(x_t.shape)}")
    ref, ref2, gen = (_draws(d, x_t, t, n) for d in (exact, exact, model))
    pts = None
    if point is not None:
        with torch.no_grad():
            tt = torch.full((x_t.shape[0],), float(t), dtype=x_t.dtype, device=x_t.device)
            pts = point(x_t, tt).detach().to("cpu", torch.float64).reshape(x_t.shape[0], 1, -1).numpy()
    keys = ["energy", "energy_floor", "mmd", "mmd_floor", "var_ratio"]
    keys += ["energy_point", "mmd_point"] if pts is not None else []
    out = {k: np.empty(x_t.shape[0]) for k in keys}
    for k in range(x_t.shape[0]):
        h = median_bandwidth(ref[k], ref2[k])
        out["energy"][k] = energy_distance(gen[k], ref[k])
        out["energy_floor"][k] = energy_distance(ref2[k], ref[k])
        out["mmd"][k] = mmd_rbf(gen[k], ref[k], bandwidth=h)
        out["mmd_floor"][k] = mmd_rbf(ref2[k], ref[k], bandwidth=h)
        out["var_ratio"][k] = gen[k].var(0).sum() / max(ref[k].var(0).sum(), 1e-300)
        if pts is not None:
            mass = np.repeat(pts[k], n, axis=0)
            out["energy_point"][k] = energy_distance(mass, ref[k])
            out["mmd_point"][k] = mmd_rbf(mass, ref[k], bandwidth=h)
    return out
