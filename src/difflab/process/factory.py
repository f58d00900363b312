"""Build a GUD process (basis + prior + schedule) from its options and training data.

GUD (Gerdes, Welling, Cheng, arXiv 2410.02667). :func:`build_process` fits
everything that depends on data (PCA matrix, prior scale, soft-conditioning
offsets); :func:`empty_process` builds the same structure with placeholder
buffers, so ``load_state_dict`` restores a checkpoint with no data at hand.
"""

import dataclasses
from typing import Any

import torch
from torch import Tensor

from difflab.errors import DifflabError
from difflab.process.bases.base import Basis
from difflab.process.bases.registry import BASES, BASIS_NAMES, build_basis
from difflab.process.options import ProcessOptions
from difflab.process.prior import PRIORS, component_second_moment, fit_prior_scale
from difflab.process.process import Process
from difflab.process.schedules.base import Schedule
from difflab.process.schedules.registry import SCHEDULE_NAMES, SCHEDULES, build_schedule


def _options(options: ProcessOptions | None, overrides: dict[str, Any]) -> ProcessOptions:
    """``options`` (default: the defaults) with keyword ``overrides``, as a new object."""
    known = [f.name for f in dataclasses.fields(ProcessOptions)]
    unknown = set(overrides) - set(known)
    if unknown:
        raise DifflabError(f"unknown process options {sorted(unknown)}; known: {', '.join(known)}")
    return dataclasses.replace(options if options is not None else ProcessOptions(), **overrides)


def _validate(o: ProcessOptions) -> None:
    if o.basis not in BASIS_NAMES:
        raise DifflabError(f"unknown basis {o.basis!r}; choose one of {', '.join(BASIS_NAMES)}")
    if o.prior not in PRIORS:
        raise DifflabError(f"unknown prior {o.prior!r}; choose one of {', '.join(PRIORS)}")
    if o.schedule not in SCHEDULE_NAMES:
        raise DifflabError(f"unknown schedule {o.schedule!r}; choose one of {', '.join(SCHEDULE_NAMES)}")
    if o.ordering not in ("basis", "variance"):
        raise DifflabError(f"unknown ordering {o.ordering!r}; choose 'basis' or 'variance'")
    if o.axis not in ("row", "column"):
        raise DifflabError(f"unknown axis {o.axis!r}; choose 'row' or 'column'")


def _needs_data(o: ProcessOptions) -> list[str]:
    """Why these options need training data (each part says so itself), empty if they do not."""
    why = []
    if BASES[o.basis].needs_data:
        why.append(f"basis={o.basis!r}")
    if PRIORS[o.prior]:
        why.append(f"prior={o.prior!r}")
    if SCHEDULES[o.schedule].needs_data:
        why.append(f"schedule={o.schedule!r} (component variances)")
    return why


def build_process(
    shape: tuple[int, ...],
    options: ProcessOptions | None = None,
    *,
    data: Tensor | None = None,
    **overrides: Any,
) -> Process:
    """A fitted :class:`Process`.

    Args:
        shape: per-example data shape, ``(C, H, W)`` or ``(D,)``.
        options: basis, prior, schedule and their options (a run config's ``process`` section);
            ``None`` means the defaults.
        data: training data ``(N, *shape)``; needed when the basis, prior or schedule
            needs data (``pca``, ``data``, ``soft``).
        **overrides: fields of :class:`ProcessOptions` to change, e.g. ``basis="dct"``:
            ``basis`` (``pixel``, ``pca``, ``dct``, ``fourier``, ``haar``), ``levels`` (Haar),
            ``prior`` (``white``: S = 1, ``data``: S_i = RMS of component i), ``schedule``
            (``linear``, ``cosine``, ``ddpm``, ``soft``, ``sequential``) and ``softness``,
            ``ordering``, ``axis``, ``gamma_min``, ``gamma_max`` (see :func:`build_schedule`).

    The returned process keeps its options as ``process.options`` for :func:`empty_process_like`.
    """
    o = _options(options, overrides)
    shape = tuple(int(s) for s in shape)
    _validate(o)
    if data is None and o.deterministic_tol > 0:
        raise DifflabError(
            "process.deterministic_tol needs training data to find the constant components; pass data=(N, *shape)"
        )
    if data is None and o.keeps_component_var:
        raise DifflabError(
            "process.network_input: unit and process.gaussian_residual need training data for the component variances"
        )
    if data is None and o.center:
        raise DifflabError("process.center needs training data to measure the mean; pass data=(N, *shape)")
    if data is None and (why := _needs_data(o)):
        raise DifflabError(
            f"{' and '.join(why)} need training data; pass data=(N, *shape) or use empty_process to load a checkpoint"
        )
    if data is not None and tuple(data.shape[1:]) != shape:
        raise DifflabError(f"data must be shaped (N, {', '.join(map(str, shape))}), got {tuple(data.shape)}")
    b = build_basis(o.basis, shape, levels=o.levels)
    if b.needs_data:
        b.fit(data)
    mean = None
    if o.center:  # GUD: subtract the training mean; the prior and Σ_i become centred variances
        mean = data.to(torch.float64).mean(0)
        data = data.to(torch.float64) - mean
    scale = fit_prior_scale(b, data, o.prior)
    deterministic = None
    needs_var = o.deterministic_tol > 0 or SCHEDULES[o.schedule].needs_data or o.keeps_component_var
    raw_var = component_second_moment(b, data) if needs_var else None  # centred variance with `center`
    if o.deterministic_tol > 0:
        deterministic = deterministic_components(raw_var, o.deterministic_tol)
        live = ~deterministic
        # A deterministic component is pinned, so its prior scale and label only must not distort the
        # others: give it the smallest live values (a floored 1e-12 variance would stretch the label range).
        scale = torch.where(deterministic, scale[live].min(), scale)
        raw_var = torch.where(deterministic, raw_var[live].min(), raw_var)
    component_var = data_var = None
    if raw_var is not None:
        component_var = raw_var.clamp_min(1e-12)
        data_var = component_var / scale**2  # Σ_i in the whitened space w = S⁻¹ U x (pinned: smallest live)
    by_data = SCHEDULES[o.schedule].needs_data  # others get no variances, as before the options that keep Σ_i
    sched = _schedule(o, b, data_var if by_data else None, component_var if by_data else None)
    kept_var = data_var if o.keeps_component_var else None
    return Process(b, sched, scale, options=o, mean=mean, deterministic=deterministic, data_var=kept_var)


def deterministic_components(component_var: Tensor, tol: float) -> Tensor:
    """Boolean ``(D,)``: components whose variance is ``<= tol ×`` the largest (``process.deterministic_tol``)."""
    if not component_var.max() > 0:
        raise DifflabError("every component has zero variance: the training data are constant")
    return component_var <= tol * component_var.max()


def empty_process(shape: tuple[int, ...], options: ProcessOptions | None = None, **overrides: Any) -> Process:
    """The process :func:`build_process` would build, with data-dependent buffers as placeholders.

    Load a checkpoint's ``state_dict`` into it; until then a PCA basis or soft
    schedule raises a DifflabError when used, and the prior scale is all ones.
    ``options`` and ``overrides`` are as for :func:`build_process`.
    """
    o = _options(options, overrides)
    shape = tuple(int(s) for s in shape)
    _validate(o)
    b = build_basis(o.basis, shape, levels=o.levels)
    fitted = SCHEDULES[o.schedule].needs_data
    # Validate the schedule options now; data-dependent buffers come from the checkpoint.
    sched = _schedule(o, b, torch.ones(b.dim) if fitted else None)
    if fitted:
        sched = SCHEDULES[o.schedule].placeholder(b.dim)
    return Process(
        b,
        sched,
        None,
        options=o,
        mean=torch.zeros(b.dim) if o.center else None,
        deterministic=torch.zeros(b.dim, dtype=torch.bool) if o.deterministic_tol > 0 else None,
        data_var=torch.ones(b.dim) if o.keeps_component_var else None,
    )


def empty_process_like(process: Process) -> Process:
    """An unfitted copy of a factory-built ``process`` (same structure, placeholder buffers)."""
    if process.options is None:
        raise DifflabError("process was not built by difflab.process.factory; call empty_process(shape, options)")
    return empty_process(process.shape, process.options)


def _schedule(o: ProcessOptions, b: Basis, data_var: Tensor | None, component_var: Tensor | None = None) -> Schedule:
    """The schedule ``o`` names, on basis ``b``: the one place that passes every schedule option along."""
    return build_schedule(
        o.schedule,
        labels=b.labels,
        data_var=data_var,
        positions=b.positions,
        softness=o.softness,
        ordering=o.ordering,
        axis=o.axis,
        gamma_min=o.gamma_min,
        gamma_max=o.gamma_max,
        component_var=component_var,
        soft_form=o.soft_form,
        table=o.table(),
    )
