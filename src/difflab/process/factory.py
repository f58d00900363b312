"""Build a GUD process (basis + prior + schedule) from names and training data.

GUD (Gerdes, Welling, Cheng, arXiv 2410.02667). :func:`build_process` fits
everything that depends on data (PCA matrix, prior scale, soft-conditioning
offsets); :func:`empty_process` builds the same structure with placeholder
buffers, so ``load_state_dict`` restores a checkpoint with no data at hand.
"""

import math
from typing import Any, get_args

import torch
from torch import Tensor

from difflab.errors import DifflabError
from difflab.process.bases.registry import BASIS_NAMES, build_basis
from difflab.process.prior import PriorName, component_second_moment, fit_prior_scale
from difflab.process.process import Process
from difflab.process.schedules.registry import SCHEDULE_NAMES, build_schedule
from difflab.process.schedules.soft import SoftConditioning

PRIOR_NAMES: tuple[str, ...] = get_args(PriorName)


def _needs_data(basis: str, prior: str, schedule: str) -> list[str]:
    why = []
    if basis == "pca":
        why.append("basis='pca'")
    if prior == "data":
        why.append("prior='data'")
    if schedule == "soft":
        why.append("schedule='soft' (component variances)")
    return why


def _validate(shape: tuple[int, ...], basis: str, prior: str, schedule: str, ordering: str, axis: str) -> None:
    if basis not in BASIS_NAMES:
        raise DifflabError(f"unknown basis {basis!r}; choose one of {', '.join(BASIS_NAMES)}")
    if prior not in PRIOR_NAMES:
        raise DifflabError(f"unknown prior {prior!r}; choose one of {', '.join(PRIOR_NAMES)}")
    if schedule not in SCHEDULE_NAMES:
        raise DifflabError(f"unknown schedule {schedule!r}; choose one of {', '.join(SCHEDULE_NAMES)}")
    if ordering not in ("basis", "variance"):
        raise DifflabError(f"unknown ordering {ordering!r}; choose 'basis' or 'variance'")
    if axis not in ("row", "column"):
        raise DifflabError(f"unknown axis {axis!r}; choose 'row' or 'column'")


def build_process(
    shape: tuple[int, ...],
    *,
    basis: str = "pixel",
    prior: str = "white",
    schedule: str = "cosine",
    data: Tensor | None = None,
    levels: int = 1,
    softness: float = math.inf,
    ordering: str = "basis",
    axis: str = "column",
    gamma_min: float | None = None,
    gamma_max: float | None = None,
) -> Process:
    """A fitted :class:`Process`.

    Args:
        shape: per-example data shape, ``(C, H, W)`` or ``(D,)``.
        basis: ``pixel``, ``pca``, ``dct``, ``fourier`` or ``haar`` (with ``levels``).
        prior: ``white`` (S = 1) or ``data`` (S_i = RMS of component i).
        schedule: ``linear``, ``cosine``, ``ddpm``, ``soft`` or ``sequential``.
        data: training data ``(N, *shape)``; needed for ``pca``, ``data`` and ``soft``.
        levels: Haar levels.
        softness, ordering, axis, gamma_min, gamma_max: see :func:`build_schedule`.

    The returned process carries ``build_options`` (these arguments, minus data)
    for :func:`empty_process_like`.
    """
    options = dict(basis=basis, prior=prior, schedule=schedule, levels=levels, softness=softness,
                   ordering=ordering, axis=axis, gamma_min=gamma_min, gamma_max=gamma_max)
    shape = tuple(int(s) for s in shape)
    _validate(shape, basis, prior, schedule, ordering, axis)
    if data is None and (why := _needs_data(basis, prior, schedule)):
        raise DifflabError(f"{' and '.join(why)} need training data; pass data=(N, *shape) or use empty_process to load a checkpoint")
    if data is not None and tuple(data.shape[1:]) != shape:
        raise DifflabError(f"data must be shaped (N, {', '.join(map(str, shape))}), got {tuple(data.shape)}")
    b = build_basis(basis, shape, levels=levels)  # type: ignore[arg-type]
    if basis == "pca":
        b.fit(data)
    scale = fit_prior_scale(b, data, prior)  # type: ignore[arg-type]
    component_var = data_var = None
    if schedule == "soft":
        component_var = component_second_moment(b, data).clamp_min(1e-12)
        data_var = component_var / scale**2  # Σ_i in the whitened space w = S⁻¹ U x
    sched = build_schedule(schedule, labels=b.labels, data_var=data_var, positions=b.positions,  # type: ignore[arg-type]
                           softness=softness, ordering=ordering, axis=axis,  # type: ignore[arg-type]
                           gamma_min=gamma_min, gamma_max=gamma_max, component_var=component_var)
    process = Process(b, sched, scale)
    process.build_options = options
    return process


def empty_process(shape: tuple[int, ...], **options: Any) -> Process:
    """The process :func:`build_process` would build, with data-dependent buffers as placeholders.

    Load a checkpoint's ``state_dict`` into it; until then a PCA basis or soft
    schedule raises a DifflabError when used, and the prior scale is all ones.
    """
    shape = tuple(int(s) for s in shape)
    opts = dict(basis="pixel", prior="white", schedule="cosine", levels=1, softness=math.inf,
                ordering="basis", axis="column", gamma_min=None, gamma_max=None)
    unknown = set(options) - set(opts)
    if unknown:
        raise DifflabError(f"unknown process options {sorted(unknown)}; known: {', '.join(opts)}")
    opts |= options
    _validate(shape, opts["basis"], opts["prior"], opts["schedule"], opts["ordering"], opts["axis"])
    b = build_basis(opts["basis"], shape, levels=opts["levels"])
    if opts["schedule"] == "soft":
        # Validate the soft options now; the offsets themselves come from the checkpoint.
        build_schedule("soft", labels=b.labels, data_var=torch.ones(b.dim), softness=opts["softness"],
                       ordering=opts["ordering"], gamma_min=opts["gamma_min"], gamma_max=opts["gamma_max"])
        sched = SoftConditioning.placeholder(b.dim)
    else:
        sched = build_schedule(opts["schedule"], labels=b.labels, positions=b.positions, softness=opts["softness"],
                               ordering=opts["ordering"], axis=opts["axis"],
                               gamma_min=opts["gamma_min"], gamma_max=opts["gamma_max"])
    process = Process(b, sched, None)
    process.build_options = {k: opts[k] for k in opts}
    return process


def empty_process_like(process: Process) -> Process:
    """An unfitted copy of a factory-built ``process`` (same structure, placeholder buffers)."""
    options = getattr(process, "build_options", None)
    if options is None:
        raise DifflabError("process was not built by difflab.process.factory; call empty_process(shape, **options)")
    return empty_process(process.shape, **options)
