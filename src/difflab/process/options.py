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
from difflab.utils.bounds import bounded


@dataclass
class ProcessOptions:
    """The GUD design space: basis, prior and per-component schedule."""

    basis: BasisName = "pixel"
    levels: int = bounded(1, ge=1, le=16)  # Haar wavelet levels
    prior: PriorName = "white"
    schedule: ScheduleName = "cosine"
    # soft conditioning / sequential: inf = standard diffusion
    softness: float = bounded(float("inf"), gt=0, allow_inf=True)
    ordering: Ordering = "basis"
    axis: Axis = "column"
    gamma_min: float | None = bounded(None, ge=-1000, le=1000)  # log noise-to-signal ratio
    gamma_max: float | None = bounded(None, ge=-1000, le=1000)

    def validate(self) -> None:
        if self.softness <= 0:
            raise DifflabError(f"process.softness must be > 0 (inf = standard diffusion), got {self.softness}")
        if self.levels < 1:
            raise DifflabError(f"process.levels must be >= 1, got {self.levels}")
