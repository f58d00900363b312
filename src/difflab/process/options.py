"""The options of a GUD process, as one object: the ``process:`` section of a run config.

GUD (Gerdes, Welling, Cheng, arXiv 2410.02667). :func:`difflab.process.factory.build_process`
takes a :class:`ProcessOptions`, the built :class:`~difflab.process.process.Process` keeps it as
``process.options``, and :func:`~difflab.process.factory.empty_process_like` rebuilds from it.
The allowed names come from the basis, prior and schedule registries.
"""

from dataclasses import dataclass
from typing import Literal

from difflab.errors import DifflabError
from difflab.process.bases.registry import BasisName
from difflab.process.prior import PriorName
from difflab.process.schedules.registry import Axis, Ordering, ScheduleName, SoftForm
from difflab.utils.bounds import bounded

NetworkInput = Literal["data", "unit"]


@dataclass
class ProcessOptions:
    """The GUD design space: basis, prior and per-component schedule."""

    basis: BasisName = "pixel"
    levels: int = bounded(1, ge=1, le=16)  # Haar wavelet levels
    prior: PriorName = "white"
    schedule: ScheduleName = "cosine"
    # soft: a = 1/softness; inf = all components in sync: equal TRUE SNR under soft_form=true_snr
    # (one γ only under the data prior), one γ under one_gamma; see process/schedules/soft.py.
    # sequential: τ_max = min(1/softness, 0.99), inf = standard diffusion.
    softness: float = bounded(float("inf"), gt=0, allow_inf=True)
    ordering: Ordering = "basis"
    axis: Axis = "column"
    gamma_min: float | None = bounded(None, ge=-1000, le=1000)  # log noise-to-signal ratio
    gamma_max: float | None = bounded(None, ge=-1000, le=1000)
    # soft schedule: how log Σ_i enters (true_snr: REFERENCE's equation, the default; gud_code: GUD's
    # variance_adjusted_schedule, raw γ end points at γ̃; one_gamma: no log Σ, softness inf = one γ)
    soft_form: SoftForm = "true_snr"
    # subtract the training mean before the basis (GUD does): the data prior and variance ordering then
    # use centred variances; False keeps second moments about zero (difflab's original behaviour)
    center: bool = False
    # > 0: components whose variance (centred with `center`, else the second moment) is <= this fraction of
    # the largest are deterministic (constant pixels): pinned to their value, not noised in the loss, left out
    # of the variance labels and of the likelihood (bits/dim over the active dims). 0 = off (the original
    # behaviour: their variance is floored at 1e-12, which makes variance-ordered schedules stiff).
    deterministic_tol: float = bounded(0.0, ge=0, lt=1)
    # What the network is fed. data: x_t in the data layout (the default; GUD's tutorial). unit: every
    # component scaled to unit variance at its own noise level, c_i(t) = (α_i² Σ_i + σ_i²)^(-1/2), then put in
    # the data layout by the orthonormal basis (EDM's c_in per component): under a white prior with a wide
    # soft schedule the data-layout input spans orders of magnitude across components and times.
    network_input: NetworkInput = "data"
    # True: the network predicts the residual from the exact denoiser of independent per-component Gaussians
    # N(0, Σ_i), so an untrained network already is that denoiser at every component and time (EDM's c_skip
    # per component; GUD's "Gaussian default" ε̂ = net + w_t is this only at σ = 1 with Σ = 1). False: none.
    gaussian_residual: bool = False
    # The discrete schedule's β table (a pretrained DDPM's, as in diffusers' scheduler config); T also sets
    # the timestep k = tT − 1 a diffusers network is fed (process.schedules.discrete.timestep_of).
    num_train_timesteps: int = bounded(1000, ge=2, le=10**6)
    beta_schedule: str = "linear"  # linear | scaled_linear | squaredcos_cap_v2 (ignored with trained_betas)
    beta_start: float = bounded(1e-4, gt=0, lt=1)
    beta_end: float = bounded(0.02, gt=0, lt=1)
    trained_betas: list[float] | None = bounded(None, ge=0, le=1)  # per item (float32 tables can hold 0)

    def table(self) -> dict:
        """The discrete schedule's table options, as ``build_schedule(table=...)`` takes them."""
        keys = ("num_train_timesteps", "beta_schedule", "beta_start", "beta_end", "trained_betas")
        return {k: getattr(self, k) for k in keys}

    @property
    def keeps_component_var(self) -> bool:
        """Whether the process keeps Σ_i (``Process.data_var``): the unit network input and the residual read it."""
        return self.network_input == "unit" or self.gaussian_residual

    def validate(self) -> None:
        if self.softness <= 0:
            raise DifflabError(f"process.softness must be > 0 (inf = standard diffusion), got {self.softness}")
        if not 0 <= self.deterministic_tol < 1:
            raise DifflabError(f"process.deterministic_tol must be in [0, 1), got {self.deterministic_tol}")
        if self.levels < 1:
            raise DifflabError(f"process.levels must be >= 1, got {self.levels}")
        if self.num_train_timesteps < 2:
            raise DifflabError(f"process.num_train_timesteps must be >= 2, got {self.num_train_timesteps}")
