"""Soft conditioning: linear γ per component with shared slope and offset starts.

GUD (Gerdes, Welling, Cheng, arXiv 2410.02667), with a = 1/softness:

    γ_i(t) = γ_min,i + t Δγ,
    γ_min,i = γ̃_denoise + log Σ_i + a (l_i − l_max),
    Δγ = γ̃_noise − γ̃_denoise + a (l_max − l_min).

Higher label l_i = lower SNR throughout = generated later; softness → 0
separates the components' active windows (autoregressive). Three forms (``form``):

- ``true_snr`` (default; REFERENCE.md's reading of the paper's equation, above): the
  *true-SNR* end points are fixed. softness → ∞ gives **equal true SNR**
  Σ_i e^{−γ_i} for every component, which is one shared γ only when Σ ≡ 1
  (the data prior). Under the white prior γ_i(0) spans log Σ (on digits' DCT:
  −10.4 … −4.2), so it is not standard diffusion.
- ``gud_code``: GUD's public ``variance_adjusted_schedule``: log Σ_i is folded into the
  label, L_i = a l_i + log Σ_i, then γ_min,i = γ̃_denoise + (L_i − L_max) and
  Δγ = γ̃_noise − γ̃_denoise + (L_max − L_min), so the *raw γ* end points hit γ̃
  exactly. With variance ordering (l = −log Σ) softness = 1 gives one shared γ
  (standard diffusion). Equal to ``true_snr`` when Σ ≡ 1.
- ``one_gamma``: no log Σ_i term, γ_min,i = γ̃_denoise + a(l_i − l_max): softness → ∞
  gives one γ for every component under every prior, the genuine standard-diffusion
  reference (with the white prior the same process, and model, in every orthonormal basis).
"""

import math

import torch
from torch import Tensor

from difflab.errors import DifflabError
from difflab.process.schedules.base import Schedule


def _vector(x: Tensor, name: str) -> Tensor:
    x = torch.as_tensor(x, dtype=torch.float64).reshape(-1)
    if not torch.isfinite(x).all():
        raise DifflabError(f"soft conditioning {name} must be finite")
    return x


SOFT_FORMS = ("true_snr", "gud_code", "one_gamma")


class SoftConditioning(Schedule):
    """GUD soft-conditioning schedule.

    Σ_i is the data variance of component i *in the whitened space the process
    runs in*, w = S⁻¹ U x: Σ_i = E[u_i²] / S_i². The true SNR of component i is
    Σ_i exp(−γ_i) (REFERENCE), so the log Σ_i term puts every component at the
    same true SNR exp(−γ̃_denoise − a(l_i − l_max)) at t = 0, whatever the prior
    (form ``true_snr``; see the module docstring for ``gud_code`` and ``one_gamma``).
    With the data prior Σ_i = 1 (S_i is the RMS), with the white prior Σ_i is
    the raw second moment of u_i. Second moments (not centred variances)
    because the basis subtracts no mean.

    Args:
        labels: ordering value l_i ``(D,)``.
        data_var: Σ_i ``(D,)``, positive.
        softness: 1/a, in (0, ∞]; ∞ gives one γ for all components (if Σ ≡ 1).
        gamma_denoise: γ̃_denoise, γ at t = 0 of the highest-label component (before log Σ).
        gamma_noise: γ̃_noise, γ at t = 1 of the lowest-label component (before log Σ).
        form: ``true_snr``, ``gud_code`` or ``one_gamma`` (module docstring).

    Buffers: ``gamma0`` ``(D,)`` (γ_min,i) and ``delta`` (scalar Δγ), float64.
    """

    name = "soft"
    needs_data = True

    def __init__(
        self,
        labels: Tensor,
        data_var: Tensor,
        softness: float = math.inf,
        gamma_denoise: float = -7.0,
        gamma_noise: float = 3.0,
        form: str = "true_snr",
    ):
        super().__init__()
        labels, data_var = _vector(labels, "labels"), _vector(data_var, "data_var")
        if labels.numel() != data_var.numel():
            raise DifflabError(f"soft conditioning got {labels.numel()} labels but {data_var.numel()} variances")
        if (data_var <= 0).any():
            raise DifflabError("soft conditioning data_var must be positive; floor the component variances")
        if not softness > 0:
            raise DifflabError(f"softness must be > 0 (inf for standard diffusion), got {softness}")
        if not gamma_noise > gamma_denoise:
            raise DifflabError(
                f"soft conditioning needs gamma_noise > gamma_denoise, got {gamma_noise} <= {gamma_denoise}"
            )
        if form not in SOFT_FORMS:
            raise DifflabError(f"unknown soft conditioning form {form!r}; choose one of {', '.join(SOFT_FORMS)}")
        a = 0.0 if math.isinf(softness) else 1.0 / softness
        if form == "gud_code":  # log Σ folded into the label; a = 1 on the combined label
            labels = (0.0 if a == 0 else a * labels) + data_var.log()
            a, offset = 1.0, torch.zeros_like(data_var)
        else:
            offset = data_var.log() if form == "true_snr" else torch.zeros_like(data_var)
        l_max, l_min = labels.max(), labels.min()
        self.register_buffer("gamma0", gamma_denoise + offset + a * (labels - l_max))
        self.register_buffer("delta", (gamma_noise - gamma_denoise + a * (l_max - l_min)).reshape(()))
        self._ready = True

    @classmethod
    def placeholder(cls, dim: int) -> "SoftConditioning":
        """An unfitted schedule of ``dim`` components; usable only after ``load_state_dict``."""
        sched = cls(torch.zeros(dim), torch.ones(dim))
        sched._ready = False
        return sched

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
        if prefix + "gamma0" in state_dict:
            self._ready = True

    def _check(self) -> None:
        if not self._ready:
            raise DifflabError(
                "soft conditioning schedule has no fitted state: build it from data or load a checkpoint"
            )

    def gamma(self, t: Tensor) -> Tensor:
        self._check()
        t = torch.as_tensor(t, dtype=torch.float64, device=self.gamma0.device)
        return self.gamma0 + t.unsqueeze(-1) * self.delta

    def dgamma_dt(self, t: Tensor) -> Tensor:
        self._check()
        t = torch.as_tensor(t, dtype=torch.float64, device=self.gamma0.device)
        return (torch.ones_like(t) * self.delta).unsqueeze(-1).expand(*t.shape, self.gamma0.numel())
