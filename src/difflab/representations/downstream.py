"""Represent a labelled dataset with a trained model: trajectories for train and test, cached on disk.

Downstream tasks (Mittal et al., arXiv 2210.13774): classification on the
run's own dataset (digits, any labelled ``npy``), and classification of noisy
inputs: test examples corrupted with Gaussian noise of std ``noise_std`` (in
the model's normalised space) *before* extraction.
"""

import warnings
from collections.abc import Sequence
from pathlib import Path

import torch

from difflab.data import load_dataset
from difflab.errors import DifflabError
from difflab.models.run import LoadedRun, load_run
from difflab.representations.cache import load_trajectories, save_trajectories
from difflab.representations.extract import STREAM_TEST, STREAM_TRAIN, Trajectories, corrupt, extract_trajectory
from difflab.representations.sources import Pool, SourceKind, build_source
from difflab.utils.device import pick_device


def _task_data(run: LoadedRun, dataset: str | None, data_options: dict | None):
    name = dataset or run.cfg.data.name
    options = dict(run.cfg.data.options if dataset is None else (data_options or {}))
    data = load_dataset(name, **options)
    if data.train_labels is None or data.test_labels is None:
        raise DifflabError(
            f"dataset {name!r} has no labels; downstream probes need a labelled dataset "
            "(npy: pass labels=FILE or an .npz with a 'labels' array)"
        )
    if tuple(data.shape) != tuple(run.info.shape):
        raise DifflabError(
            f"dataset {name!r} has examples of shape {tuple(data.shape)} but the run was trained "
            f"on {tuple(run.info.shape)}; use a dataset of the run's shape"
        )
    return name, options, data


def represent(
    run: LoadedRun | str | Path,
    *,
    times: Sequence[float],
    source: SourceKind = "unet",
    components: Sequence[str] | None = None,
    pool: Sequence[Pool] = ("mean",),
    seed: int = 0,
    noise_std: float = 0.0,
    dataset: str | None = None,
    data_options: dict | None = None,
    out: str | Path | None = None,
    batch_size: int = 256,
    device: str | torch.device = "cpu",
    progress: bool = False,
) -> Trajectories:
    """Trajectories of a dataset's train and test splits (reused from ``out`` when its cache key matches).

    Args:
        run: a :class:`difflab.models.run.LoadedRun` or a run directory.
        times: K times in [0, 1] (see :func:`trajectory_times`).
        source: ``unet`` (pooled component activations), ``drl`` or ``dmz`` (encoder codes).
        components: UNet component names (``unet`` only; default ``mid.res.1``).
        pool: pooling of each component's ``(B, C, H, W)`` activation: mean and/or max over space.
        seed: base seed of the forward noise (and of the corruption).
        noise_std: std of Gaussian noise added to the *test* inputs (robustness task); 0 for none.
        dataset: the labelled dataset's name (default: the run's own).
        data_options: its loader options (default: the run's own).
        out: cache folder; ``None`` extracts without caching.
        batch_size: examples per forward pass (the result does not depend on it).
        device: where the network runs.
        progress: show a progress bar.

    Returns:
        :class:`Trajectories` with ``train``/``test`` of shape ``(N, K, F)``.
    """
    device = pick_device(device)
    run = load_run(run, device=device) if isinstance(run, (str, Path)) else run
    src = build_source(run, source, components=components, pool=pool, seed=seed)
    if not src.time_dependent and len(times) > 1:
        warnings.warn(
            f"source {source!r} does not depend on t: one time (t=0) is extracted, not the {len(times)} asked for",
            stacklevel=2,
        )
    times = [float(t) for t in times] if src.time_dependent else [0.0]
    name, options, data = _task_data(run, dataset, data_options)
    key = {
        "run": str(Path(run.path).resolve()),
        "step": run.step,
        "dataset": name,
        "data_options": options,
        "times": times,
        "noise_std": float(noise_std),
        **src.key(),
    }
    if out is not None and (cached := load_trajectories(out, key)) is not None:
        return cached
    test_x = corrupt(data.test, noise_std, seed)
    kw = {"batch_size": batch_size, "device": device, "progress": progress}
    traj = Trajectories(
        train=extract_trajectory(src, data.train, times, stream=STREAM_TRAIN, **kw),
        train_labels=data.train_labels.long(),
        test=extract_trajectory(src, test_x, times, stream=STREAM_TEST, **kw),
        test_labels=data.test_labels.long(),
        times=times,
        meta={"key": key},
    )
    if out is not None:
        save_trajectories(out, traj, key)
    return traj
