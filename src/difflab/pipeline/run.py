"""Train a run directory, and load one back.

Run directory layout::

    RUN/config.yaml          resolved config (what `difflab train --dry-run` prints)
    RUN/checkpoints/step_*/  safetensors weights + config + meta (atomic)
    RUN/train_log.jsonl      one line per log interval: step, loss, lr, images/s
"""

from dataclasses import dataclass
from pathlib import Path

import torch

from difflab.config import config_to_dict, dump_yaml, load_config
from difflab.config.schema import RunConfig
from difflab.data import Dataset, Normaliser, load_dataset
from difflab.errors import DifflabError
from difflab.io import atomic_write_text, latest_checkpoint, load_checkpoint, save_checkpoint
from difflab.models.build import DataInfo, build_denoiser, load_weights, seeded_init
from difflab.models.denoiser import Denoiser
from difflab.objectives.build import build_objective
from difflab.training.distributed import init_distributed, resolve_device, shutdown
from difflab.training.trainer import Trainer

CONFIG_NAME, CKPT_DIR, LOG_NAME = "config.yaml", "checkpoints", "train_log.jsonl"


def data_info(dataset: Dataset) -> DataInfo:
    return DataInfo(name=dataset.name, shape=tuple(dataset.shape), num_classes=dataset.num_classes,
                    normaliser=dataset.normaliser.to_dict())


def load_data(cfg: RunConfig) -> Dataset:
    return load_dataset(cfg.data.name, **cfg.data.options)


def _check_out_dir(out: Path, cfg: RunConfig) -> None:
    """Refuse to mix two different configs in one run directory."""
    existing = out / CONFIG_NAME
    if existing.exists():
        old = load_config(RunConfig, existing)
        old_d, new_d = config_to_dict(old), config_to_dict(cfg)
        old_d["train"].pop("steps"), new_d["train"].pop("steps")  # extending a run is fine
        if old_d != new_d:
            raise DifflabError(f"{out} already holds a run with a different config; use a fresh --out "
                               "(or the same config to resume)")


def train_run(cfg: RunConfig, out: str | Path, *, progress: bool = True) -> Path:
    """Train (or resume) a run in ``out``; returns the run directory.

    Under ``torchrun`` every rank trains a DDP replica; only rank 0 writes.
    """
    out = Path(out)
    device = resolve_device(cfg.train.device)
    dist = init_distributed(device)
    try:
        dataset = load_data(cfg)
        info = data_info(dataset)
        seeded_init(cfg.seed)
        denoiser = build_denoiser(cfg, info, dataset.train)
        if dist.is_main:
            _check_out_dir(out, cfg)
            out.mkdir(parents=True, exist_ok=True)
            atomic_write_text(out / CONFIG_NAME, dump_yaml(cfg))
        labels = dataset.train_labels if cfg.network.class_conditional else None
        objective = build_objective(cfg.method, label_dropout=cfg.train.label_dropout, num_classes=info.num_classes)
        trainer = Trainer(denoiser, objective, dataset.train, labels, cfg.train, out / CKPT_DIR,
                          config=config_to_dict(cfg), meta={"data": info.to_dict()}, seed=cfg.seed, dist=dist,
                          device=device, log_path=out / LOG_NAME, progress=progress)
        last = trainer.fit()
        if dist.is_main and last is not None and hasattr(denoiser, "encoder"):
            from difflab.dmz.codes import store_marginals  # per-bit marginals for generation

            store_marginals(last, trainer.ema.model, dataset.train)
    finally:
        shutdown(dist)
    return out


@dataclass
class LoadedRun:
    """A trained model ready to sample: config, EMA denoiser (a ``CodedDenoiser`` for DMZ/DRL runs), data info."""

    cfg: RunConfig
    denoiser: Denoiser  # or difflab.dmz.CodedDenoiser (same sampling contract)
    info: DataInfo
    step: int
    path: Path

    @property
    def normaliser(self) -> Normaliser:
        return Normaliser.from_dict(self.info.normaliser)


def resolve_checkpoint(path: str | Path) -> Path:
    """A run directory (latest checkpoint) or a ``step_*`` folder."""
    path = Path(path)
    if not path.exists():
        raise DifflabError(f"run not found: {path}")
    if (path / "meta.json").exists() or path.name.startswith("step_"):
        return path
    latest = latest_checkpoint(path / CKPT_DIR)
    if latest is None:
        raise DifflabError(f"{path} holds no complete checkpoint (expected {path / CKPT_DIR}/step_*/meta.json); "
                           "train it first with `difflab train`")
    return latest


def load_run(path: str | Path, *, ema: bool = True, device: str | torch.device = "cpu") -> LoadedRun:
    """Rebuild the model from a checkpoint and its config alone (EMA weights by default)."""
    ckpt_path = resolve_checkpoint(path)
    ckpt = load_checkpoint(ckpt_path)
    cfg = load_config(RunConfig, ckpt.config)
    if "data" not in ckpt.meta:
        raise DifflabError(f"checkpoint {ckpt_path} has no data info in meta.json; it is corrupt or not a difflab run")
    info = DataInfo.from_dict(ckpt.meta["data"])
    denoiser = build_denoiser(cfg, info, None)
    group = "ema" if ema and "ema" in ckpt.tensors else "model"
    if group not in ckpt.tensors:
        raise DifflabError(f"checkpoint {ckpt_path} has no '{group}' weights; it is corrupt")
    load_weights(denoiser, ckpt.tensors[group], str(ckpt_path))
    denoiser.to(device).eval()
    return LoadedRun(cfg=cfg, denoiser=denoiser, info=info, step=ckpt.step, path=ckpt_path)


def export_run(path: str | Path, out: str | Path) -> Path:
    """Write an inference-only run folder: EMA weights, config and data info, no optimizer state.

    About a quarter of a training checkpoint's size; ``load_run(out)`` rebuilds the
    same model (it cannot resume training). Written atomically like any checkpoint.
    """
    ckpt_path = resolve_checkpoint(path)
    ckpt = load_checkpoint(ckpt_path)
    group = "ema" if "ema" in ckpt.tensors else "model"
    if group not in ckpt.tensors:
        raise DifflabError(f"checkpoint {ckpt_path} has no weights; it is corrupt")
    out = Path(out)
    if out.resolve() == Path(path).resolve() or (out / CKPT_DIR).exists():
        raise DifflabError(f"{out} already holds a run; export into a fresh folder")
    keep = {k: v for k, v in ckpt.meta.items() if k not in ("optim_skeleton", "scheduler")}  # training state
    saved = save_checkpoint(out / CKPT_DIR, {"ema": ckpt.tensors[group]}, config=ckpt.config,
                            meta={**keep, "exported_from": str(ckpt_path)})
    for extra in sorted(Path(ckpt_path).glob("*.json")):  # side files, e.g. a DMZ run's code marginals
        if extra.name != "meta.json":
            atomic_write_text(saved / extra.name, extra.read_text())
    atomic_write_text(out / CONFIG_NAME, dump_yaml(ckpt.config))
    return saved
