"""A run directory: its layout, and loading a trained model back from it.

Run directory layout::

    RUN/config.yaml          resolved config (what `difflab train --dry-run` prints)
    RUN/checkpoints/step_*/  safetensors weights + config + meta (atomic), plus any side files
                             a model writes after training (e.g. code_marginals.json)
    RUN/train_log.jsonl      one line per log interval: step, loss, lr, images/s

Training lives in :mod:`difflab.pipeline`; loading lives here, in the core, so
capabilities can load runs without importing the application layer.
"""

from dataclasses import dataclass
from pathlib import Path

import torch

from difflab.config import load_config
from difflab.config.schema import RunConfig
from difflab.data import Dataset, Normaliser, load_dataset
from difflab.errors import DifflabError
from difflab.io import Checkpoint, latest_checkpoint, load_checkpoint, load_latest_checkpoint
from difflab.models.build import DataInfo, build_denoiser, check_model_size, load_weights
from difflab.models.denoiser import Denoiser
from difflab.models.diffusers_io import is_diffusers_folder, load_diffusers
from difflab.process.process import Process
from difflab.utils.device import pick_device

CONFIG_NAME, CKPT_DIR, LOG_NAME = "config.yaml", "checkpoints", "train_log.jsonl"


def data_info(dataset: Dataset) -> DataInfo:
    """What a checkpoint records about ``dataset`` (name, shape, classes, normaliser)."""
    return DataInfo(
        name=dataset.name,
        shape=tuple(dataset.shape),
        num_classes=dataset.num_classes,
        normaliser=dataset.normaliser.to_dict(),
    )


def load_data(cfg: RunConfig) -> Dataset:
    """The dataset a run config names (``data.name`` with ``data.options``; ``data.stream`` for folder / npy)."""
    data = cfg.data
    return load_dataset(data.name, stream=data.stream, stream_above_mb=data.stream_above_mb, **data.options)


@dataclass
class LoadedRun:
    """A trained model ready to sample: config, EMA denoiser (a ``CodedDenoiser`` for DMZ/DRL runs), data info."""

    cfg: RunConfig
    denoiser: Denoiser
    info: DataInfo
    step: int
    path: Path

    @property
    def normaliser(self) -> Normaliser:
        """Maps normalised samples back to the data's units (``run.normaliser.decode(x)``)."""
        return Normaliser.from_dict(self.info.normaliser)

    @property
    def process(self) -> Process:
        """The run's forward process (basis, prior, schedule): what every sampler and time grid takes."""
        return self.denoiser.process


def resolve_checkpoint(path: str | Path) -> Path:
    """A run directory (latest checkpoint) or a ``step_*`` folder."""
    path = Path(path)
    if not path.exists():
        raise DifflabError(f"run not found: {path}")
    if (path / "meta.json").exists() or path.name.startswith("step_"):
        return path
    latest = latest_checkpoint(path / CKPT_DIR)
    if latest is None:
        raise DifflabError(
            f"{path} holds no complete checkpoint (expected {path / CKPT_DIR}/step_*/meta.json); "
            "train it first with `difflab train`"
        )
    return latest


def load_run_checkpoint(path: str | Path) -> Checkpoint:
    """Load a ``step_*`` folder, or a run directory's newest intact checkpoint.

    In a run directory a newer checkpoint that fails to load (corrupt, tampered) is
    skipped with a one-line :class:`~difflab.errors.DifflabWarning`; a ``step_*`` folder
    named explicitly is loaded or refused as it is.
    """
    path = Path(path)
    if not path.exists():
        raise DifflabError(f"run not found: {path}")
    if (path / "meta.json").exists() or path.name.startswith("step_"):
        return load_checkpoint(path)
    ckpt = load_latest_checkpoint(path / CKPT_DIR)
    if ckpt is None:
        resolve_checkpoint(path)  # raises the "no complete checkpoint" error
    return ckpt


def load_run(path: str | Path, *, ema: bool = True, device: str | torch.device = "cpu") -> LoadedRun:
    """Rebuild the model from a checkpoint and its config alone (EMA weights by default).

    A run directory loads its newest intact checkpoint (``run.step`` says which; see
    :func:`load_run_checkpoint`), a ``checkpoints/step_*`` folder that one. ``device`` is ``cpu``,
    ``cuda``, ``cuda:N`` or ``auto``; CUDA where there is none raises a one-line
    :class:`~difflab.errors.DifflabError`. Sizes are checked before anything is allocated. The model's
    :meth:`~difflab.models.denoiser.Denoiser.on_load` hook then sees the checkpoint folder, so it can
    read the side files it wrote after training.

    ``path`` may also be a diffusers folder (pipeline or bare ``UNet2DModel`` + scheduler config), read
    as ``difflab import`` would write it (:mod:`difflab.models.diffusers_io`); its step is 0.
    """
    device = pick_device(device)
    if Path(path).is_dir() and is_diffusers_folder(path):
        cfg, info, denoiser = load_diffusers(path)
        return LoadedRun(cfg=cfg, denoiser=denoiser.to(device).eval(), info=info, step=0, path=Path(path))
    ckpt = load_run_checkpoint(path)
    ckpt_path = ckpt.path
    cfg = load_config(RunConfig, ckpt.config)
    if "data" not in ckpt.meta:
        raise DifflabError(f"checkpoint {ckpt_path} has no data info in meta.json; it is corrupt or not a difflab run")
    info = DataInfo.from_dict(ckpt.meta["data"])
    group = "ema" if ema and "ema" in ckpt.tensors else "model"
    if group not in ckpt.tensors:
        raise DifflabError(f"checkpoint {ckpt_path} has no '{group}' weights; it is corrupt")
    check_model_size(cfg, info, ckpt.tensors[group], str(ckpt_path))
    denoiser = build_denoiser(cfg, info, None)
    load_weights(denoiser, ckpt.tensors[group], str(ckpt_path))
    denoiser.to(device).eval()
    denoiser.on_load(ckpt_path, lambda: load_data(cfg).train)
    return LoadedRun(cfg=cfg, denoiser=denoiser, info=info, step=ckpt.step, path=ckpt_path)
