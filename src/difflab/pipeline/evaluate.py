"""Quality versus number of steps, for several samplers, against the held-out split.

Writes ``metrics.json`` (sampler -> steps -> metrics, plus the train-vs-test
floor), ``quality_vs_steps.png`` and one sample grid per (sampler, steps).
"""

import sys
import time
from pathlib import Path
from typing import Any

import torch

from difflab.io import atomic_write_json
from difflab.metrics import evaluate
from difflab.models.generate import generate
from difflab.models.range_check import range_warning
from difflab.models.run import LoadedRun, load_data
from difflab.report import plot_quality_vs_steps, save_samples_picture


def primary_metric(dataset: str) -> str:
    """The headline metric: classifier-FD on digits, PCA-FD elsewhere."""
    return "classifier_fd" if dataset == "digits" else "pca_fd"


def evaluate_run(
    run: LoadedRun,
    *,
    steps: list[int],
    samplers: list[str],
    out_dir: str | Path,
    n: int | None = None,
    seed: int = 0,
    grid: str | None = None,
    sampler_options: dict[str, dict] | None = None,
    denoiser: torch.nn.Module | None = None,
    tag: str = "",
    generate_options: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Sample with each sampler at each step count and score against the test split.

    ``generate_options`` go to every :func:`generate` call (e.g. ``guidance``, ``clip_x0``).
    Returns the results dict that is also written to ``out_dir/metrics{tag}.json``.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    dataset = load_data(run.cfg)
    n = n or run.cfg.sample.n_eval
    grid = grid or run.cfg.sample.grid
    reference, train = dataset.test, dataset.train
    # The floor: how far real training data is from the test split, with the same n.
    gen = torch.Generator().manual_seed(seed)
    floor_idx = torch.randperm(train.shape[0], generator=gen)[: min(n, train.shape[0])]
    mixture = dataset.meta if "covs" in dataset.meta else None  # gmm: exact mode weights and covariances
    floor = evaluate(train[floor_idx], reference, dataset=dataset.name, mixture=mixture)
    results: dict[str, Any] = {
        "dataset": dataset.name,
        "n": n,
        "grid": grid,
        "seed": seed,
        "step": run.step,
        "floor": floor,
        "samplers": {},
    }
    for sampler in samplers:
        per_steps: dict[str, Any] = {}
        for k in steps:
            t0 = time.perf_counter()
            samples, nfe = generate(
                run,
                n,
                steps=k,
                sampler=sampler,
                seed=seed,
                grid=grid,
                batch_size=run.cfg.sample.batch_size,
                sampler_options=(sampler_options or {}).get(sampler),
                denoiser=denoiser,
                **(generate_options or {}),
            )
            seconds = time.perf_counter() - t0
            metrics = evaluate(samples, reference, train=train, dataset=dataset.name, mixture=mixture)
            metrics.update(nfe=nfe, seconds=seconds, samples_per_s=n / seconds)
            warning = range_warning(samples, run.normaliser, f"{sampler} {k}-step samples")
            if warning:
                print(warning, file=sys.stderr)
            per_steps[str(k)] = metrics
            save_samples_picture(samples, out_dir / f"samples_{sampler}_{k}{tag}.png")
        results["samplers"][sampler] = per_steps
    metric = primary_metric(dataset.name)
    curves = {s: {int(k): v[metric] for k, v in r.items()} for s, r in results["samplers"].items()}
    plot_quality_vs_steps(curves, out_dir / f"quality_vs_steps{tag}.png", metric_name=metric, floor=floor[metric])
    atomic_write_json(out_dir / f"metrics{tag}.json", results)
    return results
