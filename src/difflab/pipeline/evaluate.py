"""Quality versus number of steps, for several samplers, against the held-out split.

Writes ``metrics.json`` (sampler -> steps -> metrics, plus the train-vs-test
floor), ``quality_vs_steps.png`` and one sample grid per (sampler, steps).
"""

import math
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import torch

from difflab.errors import DifflabError
from difflab.io import atomic_write_json
from difflab.metrics import classifier_for, evaluate
from difflab.metrics.fid import FeatureExtractor, fid_kid, reference_features
from difflab.metrics.likelihood import bits_per_dim
from difflab.models.generate import generate
from difflab.models.range_check import range_warning
from difflab.models.run import LoadedRun, load_data
from difflab.report import plot_quality_vs_steps, save_samples_picture


def primary_metric(dataset: str, shape: tuple[int, ...] | None = None) -> str:
    """The headline metric: classifier-FD where a shipped classifier reads the images, PCA-FD elsewhere.

    The classifier is chosen by image ``shape`` (``(1, 8, 8)`` digits, ``(1, 28, 28)`` MNIST-like);
    without a shape, by the dataset's name.
    """
    return "classifier_fd" if classifier_for(shape, dataset) is not None else "pca_fd"


def feature_dim(dataset: str, shape: tuple[int, ...]) -> int:
    """Dimension of the features the headline Fréchet distance compares (128 classifier features, or <= 32 PCs)."""
    if classifier_for(shape, dataset) is not None:
        return 128
    return min(32, math.prod(shape))


def feature_extractor(dataset: str, shape: tuple[int, ...]) -> str:
    """What the headline Fréchet distance compares, in words (printed next to every FD)."""
    spec = classifier_for(shape, dataset)
    if spec is not None:
        return spec.describe(dataset)
    return f"PCA of the training split ({feature_dim(dataset, shape)} components)"


def warn(message: str) -> None:
    """One line on stderr (the CLI's warning format)."""
    print(f"difflab: warning: {message}", file=sys.stderr)


def _scores(samples, reference, refused: dict[str, str], **kwargs) -> dict[str, float | None]:
    """Every metric, each on its own; a refused one is None in the JSON and its reason goes to ``refused``."""
    reasons: dict[str, str] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # reported once per metric below, on one line
        metrics = evaluate(samples, reference, refused=reasons, **kwargs)
    for name, reason in reasons.items():
        if name not in refused:
            warn(f"{name} refused ({reason}); the other metrics are written")
        refused[name] = reason
    return {k: (None if math.isnan(v) else v) for k, v in metrics.items()}


def check_likelihood_supported(cfg) -> None:
    """Raise a DifflabError unless the run's denoiser defines a probability-flow ODE likelihood.

    A distributional generator returns a *sample* of x₀, not the mean the ODE needs, and a coded
    (DMZ/DRL) model would give p(x | z) for some code, not the model's likelihood of x.
    """
    if cfg.method.kind != "regression":
        raise DifflabError(f"bits/dim needs a regression (mean) denoiser; this run is method.kind={cfg.method.kind!r}")
    if cfg.encoder.kind != "none":
        raise DifflabError(
            f"bits/dim of a coded run (encoder.kind={cfg.encoder.kind!r}) would be conditional on a code; not supported"
        )


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
    bpd_n: int = 0,
    generate_options: dict[str, Any] | None = None,
    fid: FeatureExtractor | None = None,
    fid_cache: str | Path | None = None,
) -> dict[str, Any]:
    """Sample with each sampler at each step count and score against the test split.

    ``generate_options`` go to every :func:`generate` call (e.g. ``guidance``, ``clip_x0``).
    Returns the results dict that is also written to ``out_dir/metrics{tag}.json``. Every metric is
    computed on its own: one that refuses (e.g. memorisation when the test split duplicates training
    examples) is ``null`` in the JSON, its reason is under ``"refused"`` and printed once as a warning;
    the rest are written as usual. ``n`` below the headline metric's feature dimension gives a
    one-line warning (the Fréchet covariance is then singular and the distance biased upward).

    With ``bpd_n > 0`` the results also hold ``bits_per_dim``: the probability-flow ODE likelihood
    of the first ``bpd_n`` test examples (:func:`difflab.metrics.likelihood.bits_per_dim`, dequantised
    on the dataset's grid when it is discrete). It is the model's, not a sampler's, and costs about
    ``D`` backward passes per ODE step, so it is off by default.

    With a ``fid`` feature extractor (e.g. :func:`difflab.metrics.fid.inception_extractor`), every
    setting and the floor also get ``fid``, ``kid`` and ``kid_std`` against the whole test split, whose
    features are cached in ``fid_cache`` (default :func:`difflab.metrics.fid.default_cache_dir`).
    """
    out_dir = Path(out_dir)
    dataset = load_data(run.cfg)
    shape = tuple(dataset.test.shape[1:])
    if fid is not None and (len(shape) != 3 or shape[0] not in (1, 3)):
        raise DifflabError(f"fid/kid need images shaped (C, H, W) with C = 1 or 3; {dataset.name} is {shape}")
    out_dir.mkdir(parents=True, exist_ok=True)
    n = n or run.cfg.sample.n_eval
    grid = grid or run.cfg.sample.grid
    reference, train = dataset.test, dataset.train
    # The floor: how far real training data is from the test split, with the same n.
    gen = torch.Generator().manual_seed(seed)
    floor_idx = torch.randperm(train.shape[0], generator=gen)[: min(n, train.shape[0])]
    mixture = dataset.meta if "covs" in dataset.meta else None  # gmm: exact mode weights and covariances
    dim = feature_dim(dataset.name, shape)
    metric = primary_metric(dataset.name, shape)
    if n < dim:
        warn(
            f"n={n} is below the {dim} feature dimensions of {metric}: its covariance is "
            f"singular and the distance biased upward; use n >= {dim} for numbers you compare"
        )
    refused: dict[str, str] = {}
    floor = _scores(train[floor_idx], reference, refused, dataset=dataset.name, mixture=mixture)
    standard: dict[str, Any] = {}
    if fid is not None:
        label = f"{dataset.name}-test"
        ref_feats, cached = reference_features(
            dataset.normaliser.decode(reference), fid, label=label, cache_dir=fid_cache
        )

        def standard_scores(images) -> dict[str, float]:
            size = min(1000, len(images))
            return fid_kid(dataset.normaliser.decode(images), ref_feats, fid, kid_subset_size=size, seed=seed)

        floor.update(standard_scores(train[floor_idx]))
        standard = {"features": fid.name, "reference": label, "reference_n": len(ref_feats), "cached": cached}
    results: dict[str, Any] = {
        "dataset": dataset.name,
        "n": n,
        "grid": grid,
        "seed": seed,
        "step": run.step,
        "metric": metric,
        "features": feature_extractor(dataset.name, shape),
        "floor": floor,
        **({"fid": standard} if standard else {}),
        "samplers": {},
        "refused": refused,
    }
    if bpd_n > 0:
        check_likelihood_supported(run.cfg)
        model = denoiser if denoiser is not None else run.denoiser
        results["bits_per_dim"] = bits_per_dim(
            model,
            run.denoiser.process,
            reference[:bpd_n],
            dataset.normaliser,
            quantum=dataset.meta.get("quantum"),
            seed=seed,
        )
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
            metrics = _scores(samples, reference, refused, train=train, dataset=dataset.name, mixture=mixture)
            if fid is not None:
                metrics.update(standard_scores(samples))
            metrics.update(nfe=nfe, seconds=seconds, samples_per_s=n / seconds)
            warning = range_warning(samples, run.normaliser, f"{sampler} {k}-step samples")
            if warning:
                print(warning, file=sys.stderr)
            per_steps[str(k)] = metrics
            save_samples_picture(samples, out_dir / f"samples_{sampler}_{k}{tag}.png", normaliser=dataset.normaliser)
        results["samplers"][sampler] = per_steps
    curves = {s: {int(k): v[metric] for k, v in r.items()} for s, r in results["samplers"].items()}
    plot_quality_vs_steps(curves, out_dir / f"quality_vs_steps{tag}.png", metric_name=metric, floor=floor[metric])
    atomic_write_json(out_dir / f"metrics{tag}.json", results)
    return results
