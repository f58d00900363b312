"""The options of a GUD process, as one object: the ``process:`` section of a run config.

GUD (Gerdes, Welling, Cheng, arXiv 2410.02667). :func:`difflab.process.factory.build_process`
takes a :class:`ProcessOptions`, the built :class:`~difflab.process.process.Process` keeps it as
``process.options``, and :func:`~difflab.process.factory.empty_process_like` rebuilds from it.
The allowed names come from the basis, prior and schedule registries.
"""

from dataclasses import dataclass

from difflab.errors import DifflabError
from difflab.process.bases.registry import BasisName
from difflab.process.prior import PriorName
from difflab.process.schedules.registry import Axis, Ordering, ScheduleName


@dataclass
class ProcessOptions:
    """The GUD design space: basis, prior and per-component schedule."""

    basis: BasisName = "pixel"
    levels: int = 1  # Haar wavelet levels
    prior: PriorName = "white"
    schedule: ScheduleName = "cosine"
    softness: float = float("inf")  # soft conditioning / sequential: inf = standard diffusion
    ordering: Ordering = "basis"
    axis: Axis = "column"
    gamma_min: float | None = None
    gamma_max: float | None = None
    # The discrete schedule's β table (a pretrained DDPM's, as in diffusers' scheduler config); T also sets
    # the timestep k = tT − 1 a diffusers network is fed (process.schedules.discrete.timestep_of).
    num_train_timesteps: int = 1000
    beta_schedule: str = "linear"  # linear | scaled_linear | squaredcos_cap_v2 (ignored with trained_betas)
    beta_start: float = 1e-4
    beta_end: float = 0.02
    trained_betas: list[float] | None = None

    def table(self) -> dict:
        """The discrete schedule's table options, as ``build_schedule(table=...)`` takes them."""
        keys = ("num_train_timesteps", "beta_schedule", "beta_start", "beta_end", "trained_betas")
        return {k: getattr(self, k) for k in keys}

    def validate(self) -> None:
        if self.softness <= 0:
            raise DifflabError(f"process.softness must be > 0 (inf = standard diffusion), got {self.softness}")
        if self.levels < 1:
            raise DifflabError(f"process.levels must be >= 1, got {self.levels}")
        if self.num_train_timesteps < 2:
            raise DifflabError(f"process.num_train_timesteps must be >= 2, got {self.num_train_timesteps}")
