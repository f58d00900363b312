"""Probe studies: every mixer and every single time point over several seeds, summarised as mean ± std."""

import warnings
from collections.abc import Sequence
from dataclasses import replace

import numpy as np
from tqdm.auto import tqdm

from difflab.errors import DifflabError
from difflab.representations.extract import Trajectories
from difflab.representations.grid import replayable, train_probe_grid
from difflab.representations.mixers import MIXERS, build_mixer
from difflab.representations.probe import ProbeConfig, train_probe


def summarise(values: Sequence[float]) -> dict:
    """``{"mean", "std", "runs"}`` (population std over seeds)."""
    arr = np.asarray(values, dtype=np.float64)
    return {"mean": float(arr.mean()), "std": float(arr.std()), "runs": [float(v) for v in arr]}


def probe_mixer(
    traj: Trajectories,
    kind: str,
    seeds: Sequence[int],
    *,
    index: int = 0,
    config: ProbeConfig | None = None,
    width: int | None = None,
) -> dict:
    """Test accuracy of one mixer over ``seeds``; attention mixers also get ``attention`` ``(K,)``.

    With a sweep (``config.lrs``) every rate is trained on every seed and the rate with the highest
    validation accuracy averaged over seeds is kept (ties: the earlier rate); the test split plays no
    part in the choice. ``width`` overrides the mixer's hidden size (see :func:`build_mixer`).

    Returns:
        ``{"mean", "std", "runs"}`` of test accuracy at the chosen rate, with ``lr``, ``val`` (its mean
        validation accuracy), ``val_by_lr`` and ``best_epochs``.
    """
    cfg = config or ProbeConfig()
    _, steps, features = traj.train.shape

    def make():
        return build_mixer(kind, features, steps, traj.num_classes, index=index, width=width, dropout=cfg.dropout)

    if _grid_trains(cfg, kind) and replayable(make()):
        grid = train_probe_grid(make, [traj], seeds=seeds, config=cfg)[0]
    else:
        grid = {
            (lr, s): train_probe(make, traj, seed=s, config=replace(cfg, lr=lr)) for lr in cfg.rates() for s in seeds
        }
    return _choose_rate(grid, cfg.rates(), seeds)


def _grid_trains(cfg: ProbeConfig, kind: str) -> bool:
    """Whether :func:`train_probe_grid` trains ``kind``: ``batched``, the full budget, small probes on a CPU.

    A CPU's time for the GRU and attention at width 256 is arithmetic, which batching does not remove
    (``experiments/representations/time_probe.py`` measured the grid at 0.6-0.7x the loop's speed there).
    """
    light = kind in ("single", "single-mlp", "concat")
    return cfg.batched and cfg.patience is None and (light or not cfg.device.startswith("cpu"))


def _choose_rate(grid: dict, rates: Sequence[float], seeds: Sequence[int]) -> dict:
    """Summary at the rate with the best validation accuracy averaged over seeds (ties: the earlier rate)."""
    by_lr = {lr: [grid[lr, s] for s in seeds] for lr in rates}
    val_by_lr = {lr: float(np.mean([r.val_accuracy for r in runs])) for lr, runs in by_lr.items()}
    lr = max(val_by_lr, key=val_by_lr.get)  # max keeps the first of equal values
    runs = by_lr[lr]
    out = summarise([r.test_accuracy for r in runs]) | {
        "lr": lr,
        "val": val_by_lr[lr],
        "val_by_lr": {str(k): v for k, v in val_by_lr.items()},
        "best_epochs": [r.best_epoch for r in runs],
    }
    if runs[0].attention is not None:
        out["attention"] = np.mean([r.attention for r in runs], axis=0).tolist()
    return out


def probe_single_times(
    traj: Trajectories, kind: str, seeds: Sequence[int], *, config: ProbeConfig | None = None
) -> list[dict]:
    """:func:`probe_mixer` of a single-time probe (``single`` / ``single-mlp``) at every time point.

    With the grid (see :func:`_grid_trains`) all times train at once: each time point is a view
    ``(N, 1, F)`` probed at index 0, the same probe as index k of the whole trajectory.

    Returns:
        one summary per time point, with ``t``.
    """
    cfg = config or ProbeConfig()
    if not _grid_trains(cfg, kind):
        return [probe_mixer(traj, kind, seeds, index=k, config=cfg) | {"t": t} for k, t in enumerate(traj.times)]
    views = [
        Trajectories(traj.train[:, k : k + 1], traj.train_labels, traj.test[:, k : k + 1], traj.test_labels, [t])
        for k, t in enumerate(traj.times)
    ]
    features = traj.train.shape[2]

    def make():
        return build_mixer(kind, features, 1, traj.num_classes, dropout=cfg.dropout)

    grids = train_probe_grid(make, views, seeds=seeds, config=cfg)
    return [_choose_rate(g, cfg.rates(), seeds) | {"t": t} for g, t in zip(grids, traj.times, strict=True)]


def run_study(
    traj: Trajectories,
    mixers: Sequence[str],
    seeds: Sequence[int],
    *,
    config: ProbeConfig | None = None,
    progress: bool = False,
    width: int | None = None,
) -> dict:
    """Probe ``traj`` with each mixer; ``single``/``single-mlp`` run at every time point.

    ``width`` overrides the hidden size of the GRU and attention mixers (see :func:`build_mixer`).
    On one-time trajectories (e.g. a DMZ code) the mixers that combine times (``gru``,
    ``attention``) are skipped with a warning and listed under ``"skipped"``. ``progress`` shows a
    progress bar over all probe trainings and prints each result, labelled.

    Returns:
        ``{"times", "seeds", "single": {kind: [summary per t]}, "mixers": {kind: summary}, "skipped": [kind]}``.
    """
    unknown = sorted(set(mixers) - set(MIXERS))
    if unknown:
        raise DifflabError(f"unknown mixer(s) {unknown}; choose from {', '.join(MIXERS)}")
    n_times = traj.train.shape[1]
    skipped = [k for k in mixers if not k.startswith("single") and k != "concat" and n_times == 1]
    if skipped:
        warnings.warn(
            f"mixer {', '.join(skipped)} skipped: these trajectories have one time (nothing to mix over); "
            "extract several times (`difflab represent --times K` with a time-dependent source)",
            stacklevel=2,
        )
    out = {"times": traj.times, "seeds": list(seeds), "single": {}, "mixers": {}, "skipped": skipped}
    rates = len((config or ProbeConfig()).rates())
    units = sum(n_times if k.startswith("single") else int(k not in skipped) for k in mixers) * len(seeds) * rates
    bar = tqdm(total=units, desc="probe", unit="probe", dynamic_ncols=True, disable=not progress)
    for kind in mixers:
        if kind.startswith("single"):
            out["single"][kind] = probe_single_times(traj, kind, seeds, config=config)
            bar.update(n_times * len(seeds) * rates)
            for s in out["single"][kind] if progress else []:
                bar.write(f"  {kind} t={s['t']:.3f}: test accuracy {s['mean']:.4f} ± {s['std']:.4f}")
        elif kind not in skipped:
            out["mixers"][kind] = probe_mixer(
                traj, kind, seeds, config=config, width=width if kind in ("gru", "attention") else None
            )
            bar.update(len(seeds) * rates)
            s = out["mixers"][kind]
            if progress:
                bar.write(f"  {kind}: test accuracy {s['mean']:.4f} ± {s['std']:.4f}")
    bar.close()
    return out


def best_single(study: dict) -> dict | None:
    """The single-time summary with the highest *validation* accuracy (over all single probe kinds).

    The choice reads ``val`` (mean validation accuracy at the chosen rate), so the reported test
    accuracy of the best time is not selected on the test split; summaries without ``val`` (older
    results) fall back to the test mean.
    """
    best = None
    for kind, per_t in study["single"].items():
        for s in per_t:
            score = s.get("val", s["mean"])
            if best is None or score > best.get("val", best["mean"]):
                best = s | {"kind": kind}
    return best
