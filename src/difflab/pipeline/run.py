"""Train a run directory (and export one); loading lives in :mod:`difflab.models.run`.

Run directory layout::

    RUN/config.yaml          resolved config (what `difflab train --dry-run` prints)
    RUN/checkpoints/step_*/  safetensors weights + config + meta (atomic)
    RUN/train_log.jsonl      one line per log interval: step, loss, lr, images/s
    RUN/eval_log.jsonl       train.eval_every: one line per evaluation (step, sliced_w1, n)
    RUN/samples/step_*.png   train.eval_every: the evaluation's sample grid
    RUN/best/step_*/         train.keep_best: the checkpoint with the lowest evaluation metric
"""

import contextlib
import shutil
import tempfile
from pathlib import Path

from difflab.config import config_to_dict, dump_yaml, load_config
from difflab.config.schema import RunConfig
from difflab.data import load_dataset
from difflab.errors import DifflabError
from difflab.io import atomic_write_bytes, atomic_write_text, run_lock, save_checkpoint
from difflab.models.build import build_denoiser, seeded_init
from difflab.models.code_prior import PRIOR_WEIGHTS
from difflab.models.diffusers_io import export_diffusers, read_diffusers
from difflab.models.run import (
    CKPT_DIR,
    CONFIG_NAME,
    LOG_NAME,
    LoadedRun,
    data_info,
    load_data,
    load_run,
    load_run_checkpoint,
    resolve_checkpoint,
)
from difflab.objectives.build import build_objective
from difflab.training.distributed import init_distributed, resolve_device, shutdown
from difflab.training.evaluation import make_evaluator
from difflab.training.trainer import Trainer

# Re-exported: these lived here before loading moved into the core.
__all__ = [
    "CKPT_DIR",
    "CONFIG_NAME",
    "LOG_NAME",
    "LoadedRun",
    "data_info",
    "export_run",
    "load_data",
    "load_run",
    "resolve_checkpoint",
    "train_run",
]


# Options a resumed run may change: the evaluation during training, and the loader's worker count (a streamed
# batch does not depend on it). Tests show the weights are the same with and without them.
WATCH_KEYS = (
    ("train", "eval_every"),
    ("train", "eval_n"),
    ("train", "eval_steps"),
    ("train", "keep_best"),
    ("data", "num_workers"),
)


def _check_out_dir(out: Path, cfg: RunConfig) -> None:
    """Refuse to mix two different configs in one run directory."""
    existing = out / CONFIG_NAME
    if existing.exists():
        old = load_config(RunConfig, existing)
        old_d, new_d = config_to_dict(old), config_to_dict(cfg)
        old_d["train"].pop("steps"), new_d["train"].pop("steps")  # extending a run is fine
        for section, key in WATCH_KEYS:  # watching a run differently never changes what it trains
            old_d[section].pop(key, None), new_d[section].pop(key, None)
        if old_d != new_d:
            raise DifflabError(
                f"{out} already holds a run with a different config; use a fresh --out (or the same config to resume)"
            )


def train_run(cfg: RunConfig, out: str | Path, *, progress: bool = True) -> Path:
    """Train (or resume) a run in ``out``; returns the run directory.

    Under ``torchrun`` every rank trains a DDP replica; only rank 0 writes, and holds an
    exclusive lock on ``out`` (``out/.lock``) from before the config check to the end, so a
    second ``train`` on the same folder is refused with the holder's PID.
    """
    out = Path(out)
    device = resolve_device(cfg.train.device)
    dist = init_distributed(device)
    try:
        dataset = load_data(cfg)
        info = data_info(dataset)
        # before the run folder is touched: continuous data is refused with nothing written
        dequant_width = dataset.dequantisation_width() if cfg.data.dequantise else None
        seeded_init(cfg.seed)
        denoiser = build_denoiser(cfg, info, dataset.train)
        with contextlib.ExitStack() as stack:
            if dist.is_main:
                stack.enter_context(run_lock(out))  # held until training ends, however it ends
                _check_out_dir(out, cfg)
                atomic_write_text(out / CONFIG_NAME, dump_yaml(cfg))
            labels = dataset.train_labels if cfg.network.class_conditional else None
            evaluator = make_evaluator(cfg, info, dataset.test) if cfg.train.eval_every > 0 else None
            objective = build_objective(
                cfg.method, label_dropout=cfg.train.label_dropout, num_classes=info.num_classes, train=cfg.train
            )
            trainer = Trainer(
                denoiser,
                objective,
                dataset.train,
                labels,
                cfg.train,
                out / CKPT_DIR,
                config=config_to_dict(cfg),
                meta={"data": info.to_dict()},
                seed=cfg.seed,
                dist=dist,
                device=device,
                log_path=out / LOG_NAME,
                progress=progress,
                stream=dataset.train_stream,
                hflip=cfg.data.hflip,
                dequant_width=dequant_width,
                num_workers=cfg.data.num_workers,
                evaluator=evaluator,
            )
            last = trainer.fit()
            if dist.is_main and last is not None:
                trainer.ema.model.after_training(last, dataset.train)  # e.g. a coded model's code marginals
    finally:
        shutdown(dist)
    return out


def _fresh(out: Path) -> None:
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise DifflabError(f"{out} already exists and is not empty; write into a fresh folder")


def import_diffusers(path: str | Path, out: str | Path, *, data: str | None = None) -> Path:
    """Write a difflab run directory from a diffusers folder (see :mod:`difflab.models.diffusers_io`).

    Args:
        path: a diffusers pipeline folder or a bare ``UNet2DModel`` folder with a scheduler config.
        out: the new run directory (``config.yaml`` + ``checkpoints/step_000000/``); must be fresh.
        data: a dataset name whose normaliser decodes samples (and that ``evaluate`` compares with);
            ``None``: samples stay in the model's own range [-1, 1].

    Returns:
        The checkpoint folder. Everything is checked before anything is written, and the run is built
        aside and renamed into place, so a failure leaves nothing behind.
    """
    out = Path(out)
    _fresh(out)
    info = data_info(load_dataset(data)) if data is not None else None
    cfg, info, state, meta = read_diffusers(path, info)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".tmp_{out.name}_"))
    try:
        saved = save_checkpoint(
            tmp / CKPT_DIR,
            {"ema": state},
            config=cfg,
            meta={"step": 0, "data": info.to_dict(), "imported_from": str(path), "diffusers": meta},
        )
        atomic_write_text(tmp / CONFIG_NAME, dump_yaml(cfg))
        if out.exists():
            out.rmdir()  # checked empty above
        tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out / CKPT_DIR / saved.name


def export_run(path: str | Path, out: str | Path, *, format: str = "difflab") -> Path:
    """Write an inference-only run folder: EMA weights, config and data info, no optimizer state.

    About a quarter of a training checkpoint's size; ``load_run(out)`` rebuilds the
    same model (it cannot resume training). Written atomically like any checkpoint.

    ``format="diffusers"`` writes a ``DDPMPipeline`` folder instead (``unet/``, ``scheduler/``,
    ``model_index.json``; :func:`difflab.models.diffusers_io.export_diffusers`), for runs diffusers can
    express; any other run gets a one-line error saying why not.
    """
    if format == "diffusers":
        loaded = load_run(path)
        return export_diffusers(loaded.cfg, loaded.info, loaded.denoiser, out)
    if format != "difflab":
        raise DifflabError(f"unknown export format {format!r}; choose 'difflab' or 'diffusers'")
    ckpt = load_run_checkpoint(path)
    ckpt_path = ckpt.path
    group = "ema" if "ema" in ckpt.tensors else "model"
    if group not in ckpt.tensors:
        raise DifflabError(f"checkpoint {ckpt_path} has no weights; it is corrupt")
    out = Path(out)
    if out.resolve() == Path(path).resolve() or (out / CKPT_DIR).exists():
        raise DifflabError(f"{out} already holds a run; export into a fresh folder")
    keep = {k: v for k, v in ckpt.meta.items() if k not in ("optim_skeleton", "scheduler")}  # training state
    saved = save_checkpoint(
        out / CKPT_DIR, {"ema": ckpt.tensors[group]}, config=ckpt.config, meta={**keep, "exported_from": str(ckpt_path)}
    )
    for extra in sorted(Path(ckpt_path).glob("*.json")):  # side files, e.g. a DMZ run's code marginals
        if extra.name != "meta.json":
            atomic_write_text(saved / extra.name, extra.read_text())
    prior = Path(ckpt_path) / PRIOR_WEIGHTS  # a DMZ run's learned code prior (its JSON half is copied above)
    if prior.exists():
        atomic_write_bytes(saved / PRIOR_WEIGHTS, prior.read_bytes())
    atomic_write_text(out / CONFIG_NAME, dump_yaml(ckpt.config))
    return saved
