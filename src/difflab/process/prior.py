"""Gaussian prior matched to the data: a per-component scale S (GUD, arXiv 2410.02667).

The process runs on w = S⁻¹ U x. With the "data" prior S_i is the RMS of
component u_i about zero, not its centred std: the basis subtracts no mean, so
the forward process mixes u_i itself with noise, and E[w_T²] = α² E[w_0²] + σ²
equals 1 only when S_i² is the second moment. For zero-mean data (most
components) the two coincide.
"""

from typing import Literal

import torch
from torch import Tensor

from difflab.errors import DifflabError
from difflab.process.bases.base import Basis

# name -> whether fitting the prior needs training data (the one place prior names are written)
PRIORS: dict[str, bool] = {"white": False, "data": True}
PriorName = Literal[tuple(PRIORS)]  # type: ignore[valid-type]


@torch.no_grad()
def component_second_moment(basis: Basis, data: Tensor, batch_size: int = 1024) -> Tensor:
    """E[u_i²] over ``data`` ``(N, *shape)`` in float64, shape ``(D,)``."""
    if tuple(data.shape[1:]) != basis.shape or data.shape[0] < 1:
        raise DifflabError(
            f"data must be shaped (N, {', '.join(map(str, basis.shape))}) with N >= 1, got {tuple(data.shape)}"
        )
    buf = next(basis.buffers(), None)
    device = buf.device if buf is not None else data.device
    total = torch.zeros(basis.dim, dtype=torch.float64)
    for chunk in data.split(batch_size):
        u = basis.to_components(chunk.to(device=device, dtype=torch.float64))
        total += (u**2).sum(0).cpu()
    return total / data.shape[0]


def fit_prior_scale(basis: Basis, data: Tensor | None, kind: PriorName, floor: float = 1e-3) -> Tensor:
    """Per-component prior std ``S`` ``(D,)`` float64.

    Args:
        basis: a (fitted) basis.
        data: training data ``(N, *shape)``; unused for ``white``.
        kind: ``white`` = ones; ``data`` = RMS of each component about zero.
        floor: lower bound on S so whitening never divides by ~0 (constant pixels).
    """
    if kind == "white":
        return torch.ones(basis.dim, dtype=torch.float64)
    if kind != "data":
        raise DifflabError(f"unknown prior {kind!r}; choose 'white' or 'data'")
    if data is None:
        raise DifflabError(
            "prior 'data' needs training data to measure component scales; pass data or use prior='white'"
        )
    return component_second_moment(basis, data).sqrt().clamp_min(floor)
