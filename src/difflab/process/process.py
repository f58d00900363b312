"""The forward process: basis + prior scale + per-component schedule.

GUD (Gerdes, Welling, Cheng, arXiv 2410.02667). Diffusion runs in whitened
components ``w = S⁻¹ U x``:

    w_t = α(t) ⊙ w_0 + σ(t) ⊙ ε,   α² = sigmoid(-γ(t)),  σ² = sigmoid(γ(t)).

Standard VP diffusion is "pixel basis, unit scale, one γ for all components".
With ``process.center`` the training mean μ is subtracted first (GUD does):
``w = S⁻¹ U (x − μ)``, and the prior is N(μ, Uᵀ S² U) in data layout.
All conversions (ε, x̂₀, v, score) are in whitened component space, shape
``(B, D)``; networks see data layout ``(B, *shape)``.

Deterministic components (``process.deterministic_tol``): a component with no variance in the
training data (digits' constant border pixels, once centred) is known exactly: w_i = 0 (the mean).
The process keeps a boolean ``deterministic`` mask; :meth:`Process.pin` sets ŵ₀_i = 0 there (the
exact denoiser of a point mass), the loss and the likelihood leave those components out, and the
schedule's variance labels ignore them (process/factory.py).
"""

from typing import TYPE_CHECKING

import torch
from torch import Tensor, nn

from difflab.errors import DifflabError
from difflab.process.bases.base import Basis
from difflab.process.noise import NoiseLike, standard_normal
from difflab.process.schedules.base import Schedule, alpha_sigma_of_gamma

if TYPE_CHECKING:
    from difflab.process.options import ProcessOptions


class Process(nn.Module):
    """A variance-preserving, component-wise diffusion process.

    Args:
        basis: orthonormal basis (fitted already, if it needs fitting).
        schedule: per-component (or scalar) γ(t).
        scale: per-component prior std ``S`` of shape ``(D,)``; ``None`` means
            white (all ones), the usual N(0, I) prior.
        options: the :class:`~difflab.process.options.ProcessOptions` it was built from
            (set by :mod:`difflab.process.factory`; ``None`` for a hand-assembled process).
        mean: data-layout mean μ ``(*shape)`` subtracted before the basis; ``None`` (the default)
            subtracts nothing and keeps no buffer, so checkpoints without centring load unchanged.
        deterministic: boolean ``(D,)``, True for components whose value is known exactly (0 in
            whitened space); ``None`` (the default) keeps no buffer, as for ``mean``.
        data_var: Σ_i ``(D,)``, each component's variance in whitened space (centred with ``center``, else
            the second moment), kept for ``process.network_input: unit`` (:meth:`network_input`) and
            ``process.gaussian_residual`` (:meth:`gaussian_prediction`). ``None`` (the default) keeps no buffer.
    """

    def __init__(
        self,
        basis: Basis,
        schedule: Schedule,
        scale: Tensor | None = None,
        options: "ProcessOptions | None" = None,
        mean: Tensor | None = None,
        deterministic: Tensor | None = None,
        data_var: Tensor | None = None,
    ):
        super().__init__()
        self.basis = basis
        self.schedule = schedule
        self.options = options
        if scale is None:
            scale = torch.ones(basis.dim, dtype=torch.float64)
        scale = torch.as_tensor(scale, dtype=torch.float64).reshape(-1)
        if scale.numel() != basis.dim:
            raise DifflabError(f"prior scale has {scale.numel()} entries, the basis has {basis.dim} components")
        if not torch.isfinite(scale).all() or (scale <= 0).any():
            raise DifflabError("prior scale must be finite and positive for every component")
        self.register_buffer("scale", scale)
        if mean is not None:
            mean = torch.as_tensor(mean, dtype=torch.float64)
            if mean.numel() != basis.dim or not torch.isfinite(mean).all():
                raise DifflabError(f"process mean must be finite with {basis.dim} entries, got {mean.numel()}")
            mean = mean.reshape(basis.shape)
        self.register_buffer("mean", mean)
        if deterministic is not None:
            deterministic = torch.as_tensor(deterministic, dtype=torch.bool).reshape(-1)
            if deterministic.numel() != basis.dim:
                raise DifflabError(
                    f"deterministic mask has {deterministic.numel()} entries, the basis has {basis.dim} components"
                )
            if deterministic.all():
                raise DifflabError("every component is deterministic: the training data are constant")
        self.register_buffer("deterministic", deterministic)
        if data_var is not None:
            data_var = torch.as_tensor(data_var, dtype=torch.float64).reshape(-1)
            if data_var.numel() != basis.dim or not torch.isfinite(data_var).all() or (data_var <= 0).any():
                raise DifflabError(f"data variance must be finite and positive with {basis.dim} entries")
        self.register_buffer("data_var", data_var)

    # -- deterministic components ------------------------------------------------
    @property
    def active(self) -> Tensor | None:
        """Boolean ``(D,)`` of the components that are diffused (not deterministic); ``None`` if all are."""
        if self.deterministic is None or not bool(self.deterministic.any()):
            return None
        return ~self.deterministic

    @property
    def active_dim(self) -> int:
        """How many components are diffused (D minus the deterministic ones)."""
        return self.dim if self.active is None else int(self.active.sum())

    def pin(self, w: Tensor) -> Tensor:
        """``w`` ``(B, D)`` with the deterministic components set to their exact value 0 (no-op if none)."""
        active = self.active
        if active is None:
            return w
        return w * active.to(device=w.device, dtype=w.dtype)

    @property
    def shape(self) -> tuple[int, ...]:
        return self.basis.shape

    @property
    def dim(self) -> int:
        return self.basis.dim

    # -- spaces -----------------------------------------------------------
    def to_white(self, x: Tensor) -> Tensor:
        """Data layout ``(B, *shape)`` -> whitened components ``(B, D)``."""
        if self.mean is not None:
            x = x - self.mean.to(x.dtype)
        u = self.basis.to_components(x)
        return u / self.scale.to(u.dtype)

    def from_white(self, w: Tensor) -> Tensor:
        """Whitened components ``(B, D)`` -> data layout ``(B, *shape)``."""
        x = self.basis.from_components(w * self.scale.to(w.dtype))
        return x if self.mean is None else x + self.mean.to(x.dtype)

    def white_noise_to_data(self, e: Tensor) -> Tensor:
        """Map unit noise in component space ``(B, D)`` to data layout, *without* the prior scale.

        Networks that predict ε or v output this orthonormal image of it, which
        keeps their targets unit-variance in every basis.
        """
        return self.basis.from_components(e)

    def data_noise_to_white(self, e: Tensor) -> Tensor:
        """Inverse of :meth:`white_noise_to_data`."""
        return self.basis.to_components(e)

    def network_input(self, x_t: Tensor, t: Tensor) -> Tensor:
        """What the network is fed for ``x_t`` ``(B, *shape)`` at times ``t`` ``(B,)``.

        ``x_t`` itself, unless the process has ``data_var`` (``process.network_input: unit``): then each
        whitened component is divided by its standard deviation at time t, (α_i² Σ_i + σ_i²)^(1/2), and
        mapped to the data layout by the basis alone (no prior scale, no mean), so every component reaches
        the network with unit variance whatever its Σ_i and its place in a component-wise schedule.
        """
        if self.data_var is None or self.options is None or self.options.network_input != "unit":
            return x_t
        alpha, sigma = self.alpha_sigma(self._times(t, x_t.shape[0]))
        std = (alpha**2 * self.data_var + sigma**2).sqrt()
        w = self.to_white(x_t)
        return self.white_noise_to_data(w / std.to(w.dtype))

    def gaussian_prediction(self, w_t: Tensor, t: Tensor, prediction: str) -> Tensor | None:
        """The exact ε, v or x₀ prediction ``(B, D)`` at times ``t`` ``(B,)`` of independent Gaussians N(0, Σ_i).

        ``process.gaussian_residual``: the network output is added to it. With s = α² Σ + σ², the posterior
        mean is ŵ₀ = α Σ w_t / s, so ε̂ = σ w_t / s and v̂ = α σ (1 − Σ) w_t / s (closed forms: no division by
        σ, exact for clean components). ``None`` when the option is off.
        """
        if self.data_var is None or self.options is None or not self.options.gaussian_residual:
            return None
        alpha, sigma = self.alpha_sigma(self._times(t, w_t.shape[0]))
        var, alpha, sigma = self.data_var.to(w_t.dtype), alpha.to(w_t.dtype), sigma.to(w_t.dtype)
        s = alpha**2 * var + sigma**2
        if prediction == "x0":
            return alpha * var * w_t / s
        if prediction == "eps":
            return sigma * w_t / s
        if prediction == "v":
            return alpha * sigma * (1 - var) * w_t / s
        raise DifflabError(f"process.gaussian_residual has no Gaussian prediction for {prediction!r}")

    # -- schedule ---------------------------------------------------------
    def _times(self, t: Tensor | float, batch: int | None = None) -> Tensor:
        t = torch.as_tensor(t, dtype=torch.float64, device=self.scale.device)
        if t.ndim == 0 and batch is not None:
            t = t.expand(batch)
        return t

    def gamma(self, t: Tensor | float) -> Tensor:
        """γ(t) broadcast to ``(*t.shape, D)``, float64."""
        t = self._times(t)
        g = self.schedule.gamma(t)
        return g.expand(*t.shape, self.dim)

    def alpha_sigma(self, t: Tensor | float) -> tuple[Tensor, Tensor]:
        """α(t), σ(t), each ``(*t.shape, D)`` float64."""
        return alpha_sigma_of_gamma(self.gamma(t))

    def beta(self, t: Tensor | float) -> Tensor:
        """β(t) = σ² dγ/dt per component, ``(*t.shape, D)`` float64; zero where a component is frozen."""
        return self.schedule.beta(self._times(t), dim=self.dim)

    def logsnr(self, t: Tensor | float) -> Tensor:
        """λ = log(α²/σ²) = -γ, ``(*t.shape, D)`` float64."""
        return -self.gamma(t)

    # -- forward noising ----------------------------------------------------
    def noise(self, x0: Tensor, t: Tensor, eps: Tensor | None = None, noise: NoiseLike = None) -> tuple[Tensor, Tensor]:
        """Draw x_t given x_0.

        Args:
            x0: clean data ``(B, *shape)``.
            t: times ``(B,)`` in [0, 1].
            eps: whitened noise ``(B, D)``; drawn from ``noise`` when ``None``.
            noise: a generator or per-sample noise source.

        Returns:
            ``(x_t, eps)``: noisy data ``(B, *shape)`` and the whitened noise ``(B, D)``.
        """
        w0 = self.to_white(x0)
        if eps is None:
            eps = standard_normal(noise, w0.shape, dtype=w0.dtype, device=w0.device)
        return self.from_white(self.noise_white(w0, t, eps)), eps

    def noise_white(self, w0: Tensor, t: Tensor, eps: Tensor) -> Tensor:
        """w_t = α(t) w₀ + σ(t) ε in whitened components, all ``(B, D)``; ``t`` ``(B,)``."""
        alpha, sigma = self.alpha_sigma(self._times(t, w0.shape[0]))
        return alpha.to(w0.dtype) * w0 + sigma.to(w0.dtype) * eps

    def prior_sample(self, n: int, noise: NoiseLike = None, dtype: torch.dtype = torch.float32) -> Tensor:
        """x_T in data layout from the terminal distribution N(μ, Uᵀ S² U) (μ = 0 unless centred), ``(n, *shape)``."""
        w = standard_normal(noise, (n, self.dim), dtype=dtype, device=self.scale.device)
        return self.from_white(w)

    # -- conversions in whitened space (all (B, D); α, σ broadcastable) -------
    # The one home of these formulas: the denoiser wrapper, the regression target,
    # the SDE sampler and DDIM inversion all call them.
    @staticmethod
    def eps_to_x0(wt: Tensor, eps: Tensor, alpha: Tensor, sigma: Tensor) -> Tensor:
        """ŵ₀ = (w_t − σ ε) / α."""
        return (wt - sigma * eps) / alpha

    @staticmethod
    def x0_to_eps(wt: Tensor, w0: Tensor, alpha: Tensor, sigma: Tensor) -> Tensor:
        """ε = (w_t − α ŵ₀) / σ."""
        return (wt - alpha * w0) / sigma

    @staticmethod
    def v_to_x0(wt: Tensor, v: Tensor, alpha: Tensor, sigma: Tensor) -> Tensor:
        """ŵ₀ = α w_t − σ v (α² + σ² = 1)."""
        return alpha * wt - sigma * v

    @staticmethod
    def v_target(w0: Tensor, eps: Tensor, alpha: Tensor, sigma: Tensor) -> Tensor:
        """V = α ε − σ w₀, the target of a v-prediction network for ``w_t = α w₀ + σ ε``."""
        return alpha * eps - sigma * w0

    @staticmethod
    def x0_to_score(wt: Tensor, w0: Tensor, alpha: Tensor, sigma: Tensor) -> Tensor:
        """∇ log p(w_t) = -(w_t - α ŵ₀) / σ² (Tweedie)."""
        return -(wt - alpha * w0) / sigma**2
