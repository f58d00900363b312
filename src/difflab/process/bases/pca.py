"""PCA basis: eigenvectors of the training data's covariance.

GUD (arXiv 2410.02667): components = eigenvectors of ``cov`` from ``eigh``,
sorted by decreasing variance. The basis itself subtracts no mean, so it stays
a linear orthonormal map (the prior and schedule see the raw second moments).
"""

import warnings

import torch
from torch import Tensor

from difflab.errors import DifflabError
from difflab.process.bases.base import Basis


def ledoit_wolf(xc: Tensor) -> tuple[Tensor, float]:
    """Ledoit–Wolf shrinkage of the covariance of centred rows ``xc`` ``(N, D)``.

    Returns ``((1 − ρ) S + ρ μ I, ρ)`` with S = xcᵀxc / N and μ = tr(S) / D.
    """
    n, d = xc.shape
    s = xc.T @ xc / n
    mu = torch.trace(s) / d
    d2 = ((s - mu * torch.eye(d, dtype=s.dtype, device=s.device)) ** 2).sum()
    # Σ_k ‖x_k x_kᵀ − S‖²_F = Σ_k ‖x_k‖⁴ − N ‖S‖²_F
    b2 = ((xc**2).sum(1) ** 2).sum() / n**2 - (s**2).sum() / n
    rho = float((b2.clamp(min=0.0) / d2).clamp(max=1.0)) if d2 > 0 else 1.0
    return (1 - rho) * s + rho * mu * torch.eye(d, dtype=s.dtype, device=s.device), rho


class PCABasis(Basis):
    """Principal components of flattened training data (vectors or images).

    Constructed unfitted (buffers allocated) so a checkpoint's ``state_dict``
    restores it; :meth:`fit` computes it from data. Labels are the normalised
    rank, rank / (D − 1): 0 for the largest-variance component.

    Buffers:
        components: ``(D, D)`` float64, rows are eigenvectors.
        variances: ``(D,)`` float64 eigenvalues (centred variance), decreasing.
    """

    name = "pca"
    needs_data = True

    def __init__(self, shape: tuple[int, ...]):
        super().__init__(shape)
        self.register_buffer("components", torch.zeros(self.dim, self.dim, dtype=torch.float64))
        self.register_buffer("variances", torch.zeros(self.dim, dtype=torch.float64))
        self._fitted = False

    def fit(self, data: Tensor) -> None:
        """Eigendecompose the covariance of ``data`` ``(N, *shape)`` in float64.

        With N ≤ D the sample covariance is singular, so it is shrunk towards
        ``μ I`` (Ledoit–Wolf) and a warning says so.
        """
        if tuple(data.shape[1:]) != self.shape:
            raise DifflabError(
                f"pca fit expects data shaped (N, {', '.join(map(str, self.shape))}), got {tuple(data.shape)}"
            )
        n = data.shape[0]
        if n < 2:
            raise DifflabError(f"pca basis needs at least 2 training examples to fit, got {n}; pass more data")
        x = data.reshape(n, self.dim).to(torch.float64)
        xc = x - x.mean(0)
        if n <= self.dim:
            cov, rho = ledoit_wolf(xc)
            warnings.warn(
                f"pca basis: {n} examples for {self.dim} dimensions; covariance shrunk towards the identity "
                f"(Ledoit-Wolf, weight {rho:.3f}); trailing components are poorly determined",
                stacklevel=2,
            )
        else:
            cov = xc.T @ xc / (n - 1)
        evals, evecs = torch.linalg.eigh(cov)
        evals, evecs = evals.flip(0), evecs.flip(1)
        # Deterministic signs: the largest-magnitude entry of each eigenvector is positive.
        idx = evecs.abs().argmax(0)
        signs = torch.sign(evecs[idx, torch.arange(self.dim, device=evecs.device)])
        evecs = evecs * torch.where(signs == 0, torch.ones_like(signs), signs)
        self.components.copy_(evecs.T)
        self.variances.copy_(evals.clamp_min(0.0))
        self._fitted = True

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
        if prefix + "components" in state_dict:
            self._fitted = True

    def _matrix(self, dtype: torch.dtype) -> Tensor:
        if not self._fitted:
            raise DifflabError(
                "pca basis is not fitted: call fit(data) with training data or load a checkpoint state_dict"
            )
        return self.components.to(dtype)

    def to_components(self, x: Tensor) -> Tensor:
        self.check_shape(x)
        return x.reshape(x.shape[0], self.dim) @ self._matrix(x.dtype).T

    def from_components(self, u: Tensor) -> Tensor:
        return (u @ self._matrix(u.dtype)).reshape(u.shape[0], *self.shape)

    @property
    def labels(self) -> Tensor:
        return torch.arange(self.dim, dtype=torch.float64) / max(self.dim - 1, 1)
