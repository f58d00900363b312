"""Probe studies: every mixer and every single time point over several seeds, summarised as mean ± std."""

from collections.abc import Sequence

import numpy as np

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

    ``width`` overrides the mixer's hidden size (see :func:`build_mixer`).
    """
    _, steps, features = traj.train.shape
    runs = [
        train_probe(
            lambda: build_mixer(kind, features, steps, traj.num_classes, index=index, width=width),
            traj,
            seed=s,
            config=config,
        )
        for s in seeds
    ]
    out = summarise([r.test_accuracy for r in runs]) | {"best_epochs": [r.best_epoch for r in runs]}
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

    Returns:
        ``{"times", "seeds", "single": {kind: [summary per t]}, "mixers": {kind: summary}}``.
    """
    unknown = sorted(set(mixers) - set(MIXERS))
    if unknown:
        raise DifflabError(f"unknown mixer(s) {unknown}; choose from {', '.join(MIXERS)}")
    out = {"times": traj.times, "seeds": list(seeds), "single": {}, "mixers": {}}
    for kind in mixers:
        if kind.startswith("single"):
            out["single"][kind] = []
            for k, t in enumerate(traj.times):
                out["single"][kind].append(probe_mixer(traj, kind, seeds, index=k, config=config) | {"t": t})
                if progress:
                    s = out["single"][kind][-1]
                    print(f"  {kind} t={t:.3f}: {s['mean']:.4f} ± {s['std']:.4f}", flush=True)
        elif traj.train.shape[1] > 1 or kind == "concat":
            out["mixers"][kind] = probe_mixer(
                traj, kind, seeds, config=config, width=width if kind in ("gru", "attention") else None
            )
            if progress:
                s = out["mixers"][kind]
                print(f"  {kind}: {s['mean']:.4f} ± {s['std']:.4f}", flush=True)
    return out


def best_single(study: dict) -> dict | None:
    """The single-time summary with the highest mean (over all single probe kinds), with its kind and t."""
    best = None
    for kind, per_t in study["single"].items():
        for s in per_t:
            if best is None or s["mean"] > best["mean"]:
                best = s | {"kind": kind}
    return best
