"""Exact denoisers for Gaussian and Gaussian-mixture data: ground truth for samplers.

For data x₀ ~ N(μ, C) and GUD's component-wise process (arXiv 2410.02667) in
whitened components ``w = S⁻¹ U x``, the clean data is ``w₀ ~ N(m, K)`` with
``m = S⁻¹ U μ`` and ``K = S⁻¹ U C Uᵀ S⁻¹``, and ``w_t = A w₀ + Σ ε`` with
``A = diag α(t)``, ``Σ = diag σ(t)``. Then (w₀, w_t) is jointly Gaussian and

    w_t            ~ N(A m, A K A + Σ²)                      (marginal)
    E[w₀ | w_t]    = m + K A (A K A + Σ²)⁻¹ (w_t − A m)      (posterior mean)
    Cov[w₀ | w_t]  = K − K A (A K A + Σ²)⁻¹ A K             (posterior covariance)

— Gaussian conditioning, the minimum-MSE denoiser, valid for every basis,
prior scale and per-component schedule. For a mixture Σ_k π_k N(μ_k, C_k) the
posterior is again a mixture: each mode keeps its Gaussian posterior and is
re-weighted by its responsibility ``π_k N(w_t; A m_k, A K_k A + Σ²)``
(normalised). Everything is computed in float64.
"""

import math

import torch
from torch import Tensor

from difflab.errors import DifflabError
from difflab.process.process import Process


def gaussian_posterior(
    w_t: Tensor, alpha: Tensor, sigma: Tensor, mean: Tensor, cov: Tensor, marginal: bool = True
) -> tuple[Tensor, Tensor, Tensor | None]:
    """Posterior of one Gaussian mode at one time, in whitened components.

    Args:
        w_t: noisy components ``(B, D)`` float64.
        alpha: ``(D,)`` signal coefficients at this time.
        sigma: ``(D,)`` noise coefficients at this time.
        mean: ``(D,)`` whitened mode mean m.
        cov: ``(D, D)`` whitened mode covariance K.
        marginal: also return the log marginal density of ``w_t``.

    Returns:
        ``(post_mean (B, D), post_cov (D, D), log_marginal (B,))`` where
        ``log_marginal`` is log N(w_t; A m, A K A + Σ²) (``None`` unless ``marginal``).
    """
    ak = alpha[:, None] * cov  # A K
    m_cov = ak * alpha[None, :] + torch.diag(sigma**2)  # A K A + Σ²
    chol = torch.linalg.cholesky(m_cov)
    resid = w_t - alpha * mean  # (B, D)
    gain_t = torch.cholesky_solve(ak, chol)  # (A K A + Σ²)⁻¹ A K = gainᵀ, gain = K A (A K A + Σ²)⁻¹
    post_mean = mean + resid @ gain_t
    post_cov = cov - ak.T @ gain_t
    if not marginal:
        return post_mean, 0.5 * (post_cov + post_cov.T), None
    white = torch.linalg.solve_triangular(chol, resid.T, upper=False)  # L⁻¹ r, (D, B)
    logdet = 2 * torch.log(torch.diagonal(chol)).sum()
    log_marg = -0.5 * (white**2).sum(0) - 0.5 * logdet - 0.5 * w_t.shape[1] * math.log(2 * math.pi)
    return post_mean, 0.5 * (post_cov + post_cov.T), log_marg


class GMMOracle:
    """Exact posterior of a Gaussian mixture under a :class:`Process`; a denoiser.

    ``oracle(x_t, t) -> E[x₀ | x_t]`` in data layout (the denoiser contract);
    ``oracle.posterior_sample(x_t, t, generator)`` draws x₀ ~ p(x₀ | x_t) exactly.

    Args:
        process: the forward process (basis, prior scale, schedule).
        weights: ``(K,)`` mixture weights (normalised here).
        means: ``(K, D)`` mode means, data layout flattened.
        covs: ``(K, D, D)`` mode covariances in data layout (positive definite).
    """

    def __init__(self, process: Process, weights: Tensor, means: Tensor, covs: Tensor):
        d = process.dim
        weights = torch.as_tensor(weights, dtype=torch.float64)
        means = torch.as_tensor(means, dtype=torch.float64)
        covs = torch.as_tensor(covs, dtype=torch.float64)
        k = weights.numel()
        if means.shape != (k, d) or covs.shape != (k, d, d):
            raise DifflabError(
                f"a {k}-mode mixture on D={d} needs means ({k}, {d}) and covs ({k}, {d}, {d}), "
                f"got {tuple(means.shape)} and {tuple(covs.shape)}"
            )
        if (weights < 0).any() or weights.sum() <= 0:
            raise DifflabError("mixture weights must be non-negative with a positive sum")
        self.process = process
        self.log_weights = torch.log(weights / weights.sum())
        # Whitening: w = S⁻¹ U x, so m = S⁻¹ U μ and K = S⁻¹ U C Uᵀ S⁻¹.
        u = process.basis.matrix(torch.float64).cpu()
        s_inv = 1.0 / process.scale.detach().double().cpu()
        if process.mean is not None:  # a centred process: w = S⁻¹ U (x − μ)
            means = means - process.mean.detach().double().cpu().reshape(1, -1)
        self.white_means = (means @ u.T) * s_inv
        self.white_covs = s_inv[:, None] * (u @ covs @ u.T) * s_inv[None, :]

    def white_marginal(self, t: float) -> tuple[Tensor, Tensor]:
        """Mean ``(D,)`` and covariance ``(D, D)`` of w_t (whitened); single-mode oracles only.

        ``N(A m, A K A + Σ²)``: the exact start distribution for a sampler at ``t``.
        """
        if self.white_means.shape[0] != 1:
            raise DifflabError("white_marginal is defined for a single Gaussian; a mixture's marginal is a mixture")
        alpha, sigma = (c.cpu() for c in self.process.alpha_sigma(torch.tensor(float(t), dtype=torch.float64)))
        m, k = self.white_means[0], self.white_covs[0]
        return alpha * m, alpha[:, None] * k * alpha[None, :] + torch.diag(sigma**2)

    def _per_time(self, x_t: Tensor, t: Tensor | float):
        """Yield ``(rows, w_t rows, [(post_mean, post_cov, log_marg) per mode])`` per unique time."""
        w_t = self.process.to_white(x_t.to(torch.float64)).cpu()  # differentiable: the likelihood ODE needs ∂ŵ₀/∂w
        t = torch.as_tensor(t, dtype=torch.float64).detach().cpu()
        t = t.expand(w_t.shape[0]) if t.ndim == 0 else t.reshape(-1)
        if t.numel() != w_t.shape[0]:
            raise DifflabError(f"t must be a scalar or have shape ({w_t.shape[0]},), got {tuple(t.shape)}")
        if bool((t == t[0]).all()):  # the common case in samplers: one time for the whole batch
            groups = [(slice(None), t[0])]
        else:
            values, inverse = torch.unique(t, return_inverse=True)
            groups = [(torch.nonzero(inverse == j).squeeze(1), tj) for j, tj in enumerate(values)]
        for rows, tj in groups:
            alpha, sigma = (c.cpu() for c in self.process.alpha_sigma(tj))
            modes = [
                gaussian_posterior(w_t[rows], alpha, sigma, m, c, marginal=len(self.white_means) > 1)
                for m, c in zip(self.white_means, self.white_covs)
            ]
            yield rows, modes

    def _responsibilities(self, modes) -> Tensor:
        if len(modes) == 1:
            return torch.ones(modes[0][0].shape[0], 1, dtype=torch.float64)
        logits = torch.stack([lm for _, _, lm in modes], dim=1) + self.log_weights  # (b, K)
        return torch.softmax(logits, dim=1)

    def responsibilities(self, x_t: Tensor, t: Tensor | float) -> Tensor:
        """p(mode k | x_t), shape ``(B, K)`` float64."""
        out = torch.empty(x_t.shape[0], self.log_weights.numel(), dtype=torch.float64)
        for rows, modes in self._per_time(x_t, t):
            out[rows] = self._responsibilities(modes)
        return out

    def __call__(self, x_t: Tensor, t: Tensor | float, **cond) -> Tensor:
        """E[x₀ | x_t] in data layout ``(B, *shape)``, dtype and device of ``x_t``; ``cond`` is ignored."""
        out = torch.empty(x_t.shape[0], self.process.dim, dtype=torch.float64)
        for rows, modes in self._per_time(x_t, t):
            if len(modes) == 1:
                out[rows] = modes[0][0]
                continue
            resp = self._responsibilities(modes)
            means = torch.stack([pm for pm, _, _ in modes], dim=1)  # (b, K, D)
            out[rows] = (resp[..., None] * means).sum(1)
        return self._to_data(out, x_t)

    def posterior_sample(self, x_t: Tensor, t: Tensor | float, generator: torch.Generator | None = None) -> Tensor:
        """An exact draw x₀ ~ p(x₀ | x_t): pick a mode by responsibility, then its Gaussian posterior.

        Args:
            x_t: ``(B, *shape)``.
            t: scalar or ``(B,)`` times.
            generator: CPU generator for reproducibility.

        Returns:
            ``(B, *shape)`` samples, dtype and device of ``x_t``.
        """
        out = torch.empty(x_t.shape[0], self.process.dim, dtype=torch.float64)
        for rows, modes in self._per_time(x_t, t):
            if isinstance(rows, slice):  # one time for the whole batch: index rows explicitly below
                rows = torch.arange(x_t.shape[0])
            resp = self._responsibilities(modes)
            pick = torch.multinomial(resp, 1, generator=generator).squeeze(1)
            z = torch.randn(rows.numel(), self.process.dim, generator=generator, dtype=torch.float64)
            for k, (pm, pc, _) in enumerate(modes):
                sel = pick == k
                if sel.any():
                    vals, vecs = torch.linalg.eigh(pc)  # PSD square root; robust when Cov is near singular
                    root = vecs * vals.clamp_min(0).sqrt()
                    out[rows[sel]] = pm[sel] + z[sel] @ root.T
        return self._to_data(out, x_t)

    def _to_data(self, w: Tensor, like: Tensor) -> Tensor:
        return self.process.from_white(w.to(self.process.scale.device)).to(device=like.device, dtype=like.dtype)


class GaussianOracle(GMMOracle):
    """Exact denoiser for x₀ ~ N(mean, cov): ``E[w₀|w_t] = m + K A (A K A + Σ²)⁻¹ (w_t − A m)``.

    See the module docstring for the derivation. Per-sample times are handled
    by grouping equal times (one D×D solve per distinct time).

    Args:
        process: the forward process.
        mean: ``(D,)`` data mean, data layout flattened.
        cov: ``(D, D)`` data covariance, positive definite.
    """

    def __init__(self, process: Process, mean: Tensor, cov: Tensor):
        mean = torch.as_tensor(mean, dtype=torch.float64).reshape(1, -1)
        cov = torch.as_tensor(cov, dtype=torch.float64)
        super().__init__(process, torch.ones(1, dtype=torch.float64), mean, cov.unsqueeze(0))
