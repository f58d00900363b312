"""Probe studies: every mixer and every single time point over several seeds, summarised as mean ± std."""

import warnings
from collections.abc import Sequence
from dataclasses import replace

import numpy as np
from tqdm.auto import tqdm

from difflab.errors import DifflabError
from difflab.representations.extract import Trajectories
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

    by_lr = {lr: [train_probe(make, traj, seed=s, config=replace(cfg, lr=lr)) for s in seeds] for lr in cfg.rates()}
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
            out["single"][kind] = []
            for k, t in enumerate(traj.times):
                out["single"][kind].append(probe_mixer(traj, kind, seeds, index=k, config=config) | {"t": t})
                bar.update(len(seeds) * rates)
                s = out["single"][kind][-1]
                if progress:
                    bar.write(f"  {kind} t={t:.3f}: test accuracy {s['mean']:.4f} ± {s['std']:.4f}")
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
