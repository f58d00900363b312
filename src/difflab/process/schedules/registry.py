"""Schedule registry: the one place schedule names are written; build a schedule by name.

Scalar or component-wise (GUD, arXiv 2410.02667).
"""

import math
from typing import Literal, get_args

import torch
from torch import Tensor

from difflab.errors import DifflabError
from difflab.process.schedules.base import Schedule
from difflab.process.schedules.discrete import DiscreteSchedule
from difflab.process.schedules.scalar import CosineSchedule, DDPMLinearBeta, LinearGamma
from difflab.process.schedules.sequential import Sequential
from difflab.process.schedules.soft import SoftConditioning

SCHEDULES: dict[str, type[Schedule]] = {
    "linear": LinearGamma,
    "cosine": CosineSchedule,
    "ddpm": DDPMLinearBeta,
    "soft": SoftConditioning,
    "sequential": Sequential,
    "discrete": DiscreteSchedule,
}
ScheduleName = Literal[tuple(SCHEDULES)]  # type: ignore[valid-type]
SCHEDULE_NAMES: tuple[str, ...] = tuple(SCHEDULES)
Ordering = Literal["basis", "variance"]
Axis = Literal["row", "column"]
SoftForm = Literal["true_snr", "gud_code", "one_gamma"]  # == soft.SOFT_FORMS


def variance_labels(component_var: Tensor, floor: float = 1e-12) -> Tensor:
    """Variance-adjusted ordering l_i = −log Σ_i ``(D,)``: large variance is generated first."""
    return -torch.as_tensor(component_var, dtype=torch.float64).clamp_min(floor).log()


def build_schedule(
    name: ScheduleName,
    *,
    labels: Tensor | None = None,
    data_var: Tensor | None = None,
    positions: Tensor | None = None,
    softness: float = math.inf,
    ordering: Ordering = "basis",
    axis: Axis = "column",
    gamma_min: float | None = None,
    gamma_max: float | None = None,
    component_var: Tensor | None = None,
    soft_form: str = "true_snr",
    table: dict | None = None,
) -> Schedule:
    """A schedule by name.

    Args:
        name: ``linear``/``cosine``/``ddpm`` (scalar), ``soft`` or ``sequential``.
        labels: basis labels ``(D,)`` (``soft`` with ``ordering='basis'``).
        data_var: Σ_i in whitened space ``(D,)`` (``soft``); see :class:`SoftConditioning`.
        positions: ``(D, 2)`` component positions (``sequential``).
        softness: 1/a for ``soft``; sets τ_max = min(1/softness, 0.99) for ``sequential``.
        ordering: ``basis`` uses ``labels``; ``variance`` uses −log ``component_var``.
        axis: ``row`` or ``column`` (``sequential``).
        gamma_min: γ at t = 0 (for ``soft``: γ̃_denoise); ``None`` keeps each schedule's default;
            ``ddpm`` rejects it.
        gamma_max: γ at t = 1 (for ``soft``: γ̃_noise); ``None`` keeps the default; ``ddpm`` rejects it.
        component_var: raw per-component second moment E[u_i²] ``(D,)``, for
            ``ordering='variance'`` (defaults to ``data_var``). Raw, not whitened:
            under the data prior every whitened Σ_i is 1, which would order nothing.
        soft_form: ``true_snr`` (default), ``gud_code`` or ``one_gamma``: how log Σ_i enters
            the soft schedule (:mod:`difflab.process.schedules.soft`); other schedules need the default.
        table: ``discrete``: ``num_train_timesteps``, ``beta_schedule``, ``beta_start``, ``beta_end``,
            ``trained_betas`` (see :class:`~difflab.process.schedules.discrete.DiscreteSchedule`).
    """
    ends = {k: v for k, v in (("gamma_min", gamma_min), ("gamma_max", gamma_max)) if v is not None}
    if name not in SCHEDULE_NAMES:
        raise DifflabError(f"unknown schedule {name!r}; choose one of {', '.join(SCHEDULE_NAMES)}")
    if ordering not in get_args(Ordering):
        raise DifflabError(f"unknown ordering {ordering!r}; choose 'basis' or 'variance'")
    if name != "soft" and soft_form != "true_snr":
        raise DifflabError(f"soft_form applies to the 'soft' schedule only, not {name!r}")
    if name == "discrete":
        if ends or not math.isinf(softness) or ordering != "basis":
            raise DifflabError(
                "the discrete schedule is set by its β table (beta_schedule, ...); drop gamma_min/gamma_max/softness"
            )
        return DiscreteSchedule(**(table or {}))
    if name in ("linear", "cosine", "ddpm"):
        if not math.isinf(softness) or ordering != "basis":
            raise DifflabError(f"softness and ordering apply to 'soft'/'sequential' schedules, not {name!r}")
        if name == "linear":
            return LinearGamma(**ends)
        if name == "cosine":
            return CosineSchedule(**ends)
        if ends:
            raise DifflabError("the ddpm schedule is set by beta_min/beta_max; drop gamma_min/gamma_max")
        return DDPMLinearBeta()
    if name == "sequential":
        if positions is None:
            raise DifflabError(
                "sequential schedule needs component positions: use the pixel or haar basis on (C, H, W) data"
            )
        if ordering != "basis":
            raise DifflabError("ordering='variance' applies to the soft schedule only")
        return Sequential(positions, axis=axis, softness=softness, **ends)
    if data_var is None:
        raise DifflabError("soft schedule needs per-component data variances (data_var); pass training data")
    if ordering == "variance":
        labels = variance_labels(component_var if component_var is not None else data_var)
    elif labels is None:
        raise DifflabError("soft schedule with ordering='basis' needs the basis labels")
    soft_ends = {"gamma_denoise": ends["gamma_min"]} if "gamma_min" in ends else {}
    soft_ends |= {"gamma_noise": ends["gamma_max"]} if "gamma_max" in ends else {}
    return SoftConditioning(labels, data_var, softness=softness, form=soft_form, **soft_ends)
