"""The training loop: AdamW, LR warm-up and decay (``training/lr.py``), clipping, accumulation, EMA, resume.

Runs unchanged on one CPU, one GPU (bf16 autocast; fp16 with a GradScaler where bf16 is missing or
asked for) or under ``torchrun`` (DistributedDataParallel). Only rank 0 writes files. Each rank draws
its own batches, from a generator seeded by (seed, rank) in memory or per micro-batch from a streamed
dataset (``training/batches.py``), so a run is deterministic under a seed on CPU. Every
``train.eval_every`` steps rank 0 evaluates the EMA model (``training/evaluation.py``).

Signals: SIGINT (Ctrl-C) and SIGTERM (what SLURM, Kubernetes and torchrun send before a
kill) only set a flag. The loop reads it between steps (all-reduced under DDP, so every
rank stops at the same step), checkpoints exactly the state after the last completed step
under that step's number, and raises :class:`~difflab.errors.Interrupted` (exit code 130
or 143). A second Ctrl-C stops at once and saves nothing (the state may be mid-step).
"""

import math
import signal
import threading
import time
from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel
from tqdm.auto import tqdm

from difflab.config.schema import TrainConfig
from difflab.data.stream import StreamedExamples
from difflab.errors import DifflabError, Interrupted
from difflab.io import (
    JsonlLogger,
    check_state,
    clean_temporaries,
    flatten_optimizer_state,
    latest_checkpoint,
    load_latest_checkpoint,
    save_checkpoint,
    truncate_jsonl_after,
    unflatten_optimizer_state,
)
from difflab.io.tensorboard import TensorBoardLogger, check_tensorboard
from difflab.process.noise import derive_seed
from difflab.report.image_grid import save_image_grid
from difflab.training.batches import MemoryBatches, StreamBatches
from difflab.training.distributed import DistInfo, all_reduce_mean, barrier
from difflab.training.ema import EMA
from difflab.training.evaluation import METRIC, Evaluator
from difflab.training.lr import lr_factor
from difflab.utils.device import autocast_for, effective_precision, sync_device
from difflab.utils.faults import fault_point

# objective(model, x0, labels, generator) -> per-sample loss (B,)
Objective = Callable[[nn.Module, Tensor, Tensor | None, torch.Generator], Tensor]


ESTIMATE_STEPS = 5  # steps timed for the expected-time line printed at the start of training
DEVICE_DATA_BYTES = 1 << 30  # training sets up to 1 GiB are copied to the GPU once


def expected_time_line(trainer: "Trainer", since: float) -> str:
    """One line: the expected time for the remaining steps, from ``ESTIMATE_STEPS`` steps timed since ``since``."""
    sync_device(trainer.device)
    per_step = (time.perf_counter() - since) / ESTIMATE_STEPS
    left = trainer.cfg.steps - trainer.step
    total = per_step * left
    when = f"{total / 60:.1f} min" if total >= 60 else f"{total:.0f} s"
    threads = (
        f", {torch.get_num_threads()} torch threads (OMP_NUM_THREADS sets it)" if trainer.device.type == "cpu" else ""
    )
    return (
        f"train: expected about {when} for the remaining {left} steps "
        f"({per_step:.3g} s/step over {ESTIMATE_STEPS} steps{threads}; train.time_limit=SECONDS caps it)"
    )


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StopRequest:
    """Signal handlers that only record the signal; the training loop acts on it between steps.

    Installed only in the main thread (Python delivers signals there). A second SIGINT
    while a stop is pending raises ``KeyboardInterrupt`` at once: the user insists.
    """

    def __init__(self) -> None:
        self.signum: int | None = None
        self._previous: dict[int, Any] = {}

    def install(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        for sig in STOP_SIGNALS:
            self._previous[sig] = signal.signal(sig, self._handle)

    def restore(self) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()

    def _handle(self, signum: int, frame: Any) -> None:
        if self.signum is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.signum = self.signum or signum


def agreed_stop(local: int | None, dist: DistInfo) -> int | None:
    """The stop signal every rank agrees on: any rank's request stops all (one all-reduce under DDP).

    Returns the local signal number, SIGTERM for a rank that got none itself, or ``None``.
    """
    if not dist.enabled:
        return local
    wanted = all_reduce_mean(torch.tensor(0.0 if local is None else 1.0), dist)
    if float(wanted) <= 0:
        return None
    return local or int(signal.SIGTERM)


class _LossModule(nn.Module):
    """Puts the objective inside ``forward`` so DDP sees (and syncs) the whole step."""

    def __init__(self, model: nn.Module, objective: Objective):
        super().__init__()
        self.model = model
        self.objective = objective

    def forward(self, x0: Tensor, labels: Tensor | None, generator: torch.Generator) -> Tensor:
        return self.objective(self.model, x0, labels, generator)


class Trainer:
    """Train ``model`` on ``train_x`` with ``objective``.

    Args:
        model: the module to optimise (a denoiser, or a denoiser plus encoder).
        objective: per-sample loss function, see :data:`Objective`.
        train_x: training data ``(N, *shape)`` (normalised).
        train_labels: ``(N,)`` int64 or None.
        cfg: the ``train`` section of the run config.
        ckpt_dir: folder for ``step_*`` checkpoints (rank 0 writes).
        config: the resolved run config (dict), saved with every checkpoint.
        meta: extra JSON-safe metadata saved with every checkpoint (data shape, normaliser...).
        seed: run seed.
        dist: distributed info; ``device``: where to train.
        stream: the whole training split read per batch (``Dataset.train_stream``); ``train_x`` is then only
            checked non-empty, and ``train_labels`` not ``None`` asks for the stream's labels.
        hflip: mirror each training image left-right with probability 1/2 (``data.hflip``).
        dequant_width: one grid step in normalised units, shaped like an example, to dequantise every batch
            with (``data.dequantise``); ``None``: train on the data as it is.
        num_workers: DataLoader workers of a streamed training split (``data.num_workers``).
        evaluator: ``(ema_model, step) -> Evaluation`` run every ``cfg.eval_every`` steps on rank 0
            (:func:`difflab.training.evaluation.make_evaluator`); ``None``: no evaluation.
    """

    def __init__(
        self,
        model: nn.Module,
        objective: Objective,
        train_x: Tensor,
        train_labels: Tensor | None,
        cfg: TrainConfig,
        ckpt_dir: Path,
        *,
        config: dict,
        meta: dict,
        seed: int,
        dist: DistInfo | None = None,
        device: torch.device | None = None,
        log_path: Path | None = None,
        progress: bool = True,
        stream: StreamedExamples | None = None,
        hflip: bool = False,
        dequant_width: Tensor | None = None,
        num_workers: int = 0,
        evaluator: Evaluator | None = None,
    ):
        if train_x.shape[0] == 0:
            raise DifflabError("the training set is empty")
        if hflip and train_x.dim() != 4:
            shape = tuple(train_x.shape[1:])
            raise DifflabError(f"data.hflip mirrors images; this dataset's examples have shape {shape}")
        if cfg.eval_every > 0 and evaluator is None:
            raise DifflabError("train.eval_every needs an evaluator (train through difflab.pipeline.train_run)")
        if cfg.logger == "tensorboard":
            check_tensorboard()  # before any step: a missing extra is one line, not a crash at the first log
        self.cfg, self.config, self.meta, self.seed = cfg, config, meta, seed
        self.dist = dist or DistInfo()
        self.device = device or torch.device("cpu")
        self.channels_last = cfg.channels_last and train_x.dim() == 4
        self.model = model.to(self.device)
        if self.channels_last:  # before the EMA copy, so both keep the layout (checkpoints are saved contiguous)
            self.model = self.model.to(memory_format=torch.channels_last)
        self.precision = effective_precision(self.device, cfg.precision)
        if stream is not None:
            self.batches: MemoryBatches | StreamBatches = StreamBatches(
                stream,
                cfg.batch_size,
                seed,
                self.dist.rank,
                self.device,
                hflip=hflip,
                dequant_width=dequant_width,
                num_workers=num_workers,
                with_labels=train_labels is not None,
            )
        else:
            # Small training sets live on the device: one host-to-device copy instead of one per step.
            on_device = self.device.type != "cpu" and train_x.numel() * train_x.element_size() <= DEVICE_DATA_BYTES
            train_x = train_x.to(self.device) if on_device else train_x
            train_labels = train_labels.to(self.device) if on_device and train_labels is not None else train_labels
        self.evaluator = evaluator
        self.best: float | None = None  # the lowest evaluation metric so far (train.keep_best)
        self.ckpt_dir = Path(ckpt_dir)
        self.log_path = log_path
        self.progress = progress and self.dist.is_main
        params = [p for p in self.model.parameters() if p.requires_grad]
        self.optimizer = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, lambda step: lr_factor(step, cfg))
        self.ema = EMA(self.model, cfg.ema_decay)
        self.generator = torch.Generator().manual_seed(derive_seed(seed, self.dist.rank))
        if stream is None:
            self.batches = MemoryBatches(
                train_x, train_labels, cfg.batch_size, self.generator, self.device, hflip, dequant_width
            )
        # fp16 gradients underflow without loss scaling; bf16 and fp32 need none (the scaler is then a no-op)
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=self.precision == "fp16")
        self.step = 0
        self.saved_step: int | None = None  # the step of the newest checkpoint this trainer wrote or resumed
        self.grad_norm = torch.zeros((), device=self.device)  # of the last step, before clipping
        loss_module = _LossModule(self.model, objective)
        if cfg.compile:
            # in place: the parameters and their state_dict names stay those of self.model
            loss_module.compile()
        self.loss_module: nn.Module = (
            DistributedDataParallel(loss_module, device_ids=[self.device] if self.device.type == "cuda" else None)
            if self.dist.enabled
            else loss_module
        )

    # -- checkpoints -----------------------------------------------------------
    def state_tensors(self) -> tuple[dict[str, dict[str, Tensor]], dict[str, Any]]:
        optim_tensors, skeleton = flatten_optimizer_state(self.optimizer.state_dict())
        tensors = {
            "model": {k: v.detach().cpu().contiguous() for k, v in self.model.state_dict().items()},
            "ema": {k: v.detach().cpu().contiguous() for k, v in self.ema.model.state_dict().items()},
            "optim": {k: v.detach().cpu().contiguous() for k, v in optim_tensors.items()},
            "rng": {"train": self.generator.get_state()},
        }
        extra = {"optim_skeleton": skeleton, "scheduler": self.scheduler.state_dict(), "ema_updates": self.ema.updates}
        if self.scaler.is_enabled():
            extra["grad_scaler"] = self.scaler.state_dict()
        if self.best is not None:
            extra["best"] = {METRIC: self.best}
        return tensors, extra

    def save(self) -> Path | None:
        """Write a checkpoint for the current step (rank 0 only)."""
        path = None
        if self.dist.is_main:
            tensors, extra = self.state_tensors()
            path = save_checkpoint(
                self.ckpt_dir,
                tensors,
                config=self.config,
                meta={"step": self.step, **self.meta, **extra},
                keep_last=self.cfg.keep_last,
            )
        barrier(self.dist)
        self.saved_step = self.step
        return path

    def resume(self) -> bool:
        """Load the newest intact checkpoint in ``ckpt_dir`` if there is one.

        Leftovers of a killed save or prune are removed first (rank 0; the run lock keeps
        other writers out), and a newer checkpoint that fails to load is skipped with a warning.
        """
        if self.dist.is_main:
            clean_temporaries(self.ckpt_dir)
        barrier(self.dist)
        ckpt = load_latest_checkpoint(self.ckpt_dir)
        if ckpt is None:
            return False
        latest = ckpt.path
        try:
            check_state(self.model.state_dict(), ckpt.tensors["model"], latest)
            check_state(self.ema.model.state_dict(), ckpt.tensors["ema"], latest)
            self.model.load_state_dict(ckpt.tensors["model"])
            self.ema.model.load_state_dict(ckpt.tensors["ema"])
            self.optimizer.load_state_dict(
                unflatten_optimizer_state(ckpt.tensors["optim"], ckpt.meta["optim_skeleton"])
            )
        except (KeyError, RuntimeError) as exc:
            raise DifflabError(
                f"checkpoint {latest} does not match this model ({str(exc).splitlines()[0]}); use a fresh --out folder"
            ) from None
        self.scheduler.load_state_dict(ckpt.meta["scheduler"])
        self.ema.updates = int(ckpt.meta.get("ema_updates", 0))
        if self.scaler.is_enabled() and "grad_scaler" in ckpt.meta:
            self.scaler.load_state_dict(ckpt.meta["grad_scaler"])
        self.best = ckpt.meta.get("best", {}).get(METRIC)
        if self.dist.is_main:  # other ranks keep their own stream, offset by rank
            self.generator.set_state(ckpt.tensors["rng"]["train"])
        else:
            self.generator.manual_seed(derive_seed(self.seed, self.dist.rank, offset=7919 * ckpt.step))
        self.step = self.saved_step = ckpt.step
        return True

    # -- the loop ---------------------------------------------------------------
    def _batch(self) -> tuple[Tensor, Tensor | None]:
        x0, labels = self.batches.next()
        if self.channels_last:
            x0 = x0.contiguous(memory_format=torch.channels_last)
        return x0, labels

    def _autocast(self):
        return autocast_for(self.device, self.precision)

    def train_step(self) -> Tensor:
        """One optimiser step; returns the mean loss as a 0-d tensor on the device.

        The loss is not read back here: a host sync per step would stall a GPU on
        small models. ``fit`` reads it (and checks it is finite) every ``log_every`` steps.
        """
        self.model.train()
        self.optimizer.zero_grad(set_to_none=True)
        total = torch.zeros((), device=self.device)
        for micro in range(self.cfg.grad_accum):
            last = micro == self.cfg.grad_accum - 1
            sync = nullcontext() if (last or not self.dist.enabled) else self.loss_module.no_sync()
            x0, labels = self._batch()
            fault_point("step:after_batch", trainer=self)
            with sync, self._autocast():
                loss = self.loss_module(x0, labels, self.generator).float().mean() / self.cfg.grad_accum
            with sync:
                self.scaler.scale(loss).backward()
            fault_point("step:after_backward", trainer=self)
            total += loss.detach()
        self.scaler.unscale_(self.optimizer)  # clipping and the logged norm see the true gradients
        if self.cfg.grad_clip > 0:
            self.grad_norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.cfg.grad_clip)
        else:
            grads = [p.grad for p in self.model.parameters() if p.grad is not None]
            self.grad_norm = torch.nn.utils.get_total_norm(grads) if grads else torch.zeros((), device=self.device)
        if self.scaler.is_enabled():  # an overflowed fp16 step is skipped; log its norm as 0, not inf
            self.grad_norm = torch.nan_to_num(self.grad_norm, nan=0.0, posinf=0.0)
        self.scaler.step(self.optimizer)  # skipped (and the scale lowered) when fp16 gradients overflowed
        self.scaler.update()
        self.scheduler.step()
        fault_point("step:after_optimizer", trainer=self)
        self.ema.update(self.model)
        fault_point("step:after_ema", trainer=self)
        self.step += 1
        return total

    def fit(self) -> Path | None:
        """Train to ``cfg.steps`` (resuming if a checkpoint exists); returns the last checkpoint.

        SIGINT/SIGTERM stop the run at the next step boundary with a checkpoint of that
        step, then raise :class:`~difflab.errors.Interrupted` for the caller to report.
        On resume the training log is cut back to the checkpoint's step, so each step is
        logged once.
        """
        stop = StopRequest()
        stop.install()
        try:
            return self._fit(stop)
        finally:
            stop.restore()

    def _fit(self, stop: StopRequest) -> Path | None:
        self.resume()
        evaluating = self.cfg.eval_every > 0 and self.dist.is_main
        if self.dist.is_main:
            for path in (self.log_path, self._eval_log_path() if evaluating else None):
                if path is not None:
                    truncate_jsonl_after(path, self.step)
        if evaluating:
            self._check_writable(self._samples_dir())
        logger = JsonlLogger(self.log_path) if (self.log_path and self.dist.is_main) else None
        eval_log = JsonlLogger(self._eval_log_path()) if evaluating else None
        board = None
        if self.cfg.logger == "tensorboard" and self.dist.is_main:
            try:
                # events past the checkpoint (an interrupted run's) are purged, as the JSONL is cut back
                board = TensorBoardLogger(self._tensorboard_dir(), purge_step=self.step + 1 if self.step else None)
            except DifflabError:
                for log in (logger, eval_log):
                    if log is not None:
                        log.close()
                raise
        self.batches.start(self.step * self.cfg.grad_accum)  # a streamed loader restarts where the step says
        bar = None
        if self.progress:
            bar = tqdm(total=self.cfg.steps, initial=self.step, desc="train", unit="step", dynamic_ncols=True)
        images = self.cfg.batch_size * self.cfg.grad_accum * self.dist.world_size
        last_path = latest_checkpoint(self.ckpt_dir)
        window_loss, window_grad, window_n, t_window = 0.0, 0.0, 0, time.perf_counter()
        window_clipped = 0.0  # steps in the window whose pre-clipping norm exceeded grad_clip
        deadline = time.perf_counter() + self.cfg.time_limit if self.cfg.time_limit > 0 else math.inf
        say = bar.write if bar is not None else None
        if say is not None and self.step > 0:
            say(f"train: resuming from step {self.step} of {self.cfg.steps} ({last_path})")
        # The expected time: timed over ESTIMATE_STEPS steps after the first (which pays for warm-up).
        first_step, t_estimate = self.step, None
        try:
            while self.step < self.cfg.steps:
                signum = agreed_stop(stop.signum, self.dist)
                if signum is not None:
                    self._stop(signum)
                loss = self.train_step()
                window_loss, window_grad, window_n = window_loss + loss, window_grad + self.grad_norm, window_n + 1
                if self.cfg.grad_clip > 0:
                    window_clipped = window_clipped + (self.grad_norm > self.cfg.grad_clip).float()
                if bar is not None:
                    bar.update(1)
                done = self.step - first_step
                if say is not None and done == 1:
                    sync_device(self.device)
                    t_estimate = time.perf_counter()
                elif say is not None and done == 1 + ESTIMATE_STEPS and self.step < self.cfg.steps:
                    say(expected_time_line(self, t_estimate))
                # The clock is read at log steps only, so every rank stops at the same step.
                at_log = self.step % self.cfg.log_every == 0
                out_of_time = (
                    at_log
                    and deadline < math.inf
                    and bool(all_reduce_mean(torch.tensor(float(time.perf_counter() > deadline)), self.dist) > 0)
                )
                if at_log or self.step == self.cfg.steps:
                    window = float(window_loss) / window_n
                    if not math.isfinite(window):
                        raise DifflabError(
                            f"training loss became {window} before step {self.step}; lower train.lr or check the data"
                        )
                    mean_loss = float(all_reduce_mean(torch.tensor(window), self.dist))
                    rate = images * window_n / (time.perf_counter() - t_window)
                    grad_norm = float(window_grad) / window_n  # mean over the window, before clipping
                    lr = self.scheduler.get_last_lr()[0]
                    if bar is not None:
                        bar.set_postfix(loss=f"{mean_loss:.4f}", img_s=f"{rate:.0f}")
                    if logger is not None:
                        # clipped: the fraction of the window's steps that gradient clipping rescaled
                        clip = {"clipped": float(window_clipped) / window_n} if self.cfg.grad_clip > 0 else {}
                        logger.log(
                            step=self.step,
                            loss=mean_loss,
                            lr=lr,
                            grad_norm=grad_norm,
                            images_per_s=rate,
                            time=time.time(),
                            **clip,
                        )
                    if board is not None:
                        board.log(self.step, loss=mean_loss, lr=lr, grad_norm=grad_norm, images_per_s=rate)
                    window_loss, window_grad, window_n, t_window = 0.0, 0.0, 0, time.perf_counter()
                    window_clipped = 0.0
                if self.cfg.eval_every > 0 and self.step % self.cfg.eval_every == 0:
                    t_eval = time.perf_counter()
                    self._evaluate(eval_log, board)
                    t_window += time.perf_counter() - t_eval  # throughput counts training time only
                if self.step % self.cfg.checkpoint_every == 0 or self.step == self.cfg.steps or out_of_time:
                    last_path = self.save()
                fault_point("step:end", trainer=self)
                if out_of_time:
                    break
        except KeyboardInterrupt as exc:
            if isinstance(exc, Interrupted):
                raise
            # A second Ctrl-C (or one with no handler installed) lands mid-step: that state is
            # torn, so nothing is saved; the newest checkpoint on disk is the one to resume from.
            newest = latest_checkpoint(self.ckpt_dir)
            where = f"the newest checkpoint is {newest.name}" if newest else "no checkpoint was written yet"
            raise Interrupted(
                f"interrupted during step {self.step + 1}; that step was not saved and {where} — "
                "rerun the same command to resume",
                130,
            ) from None
        finally:
            self.batches.close()
            if bar is not None:
                bar.close()
            for log in (logger, eval_log, board):
                if log is not None:
                    log.close()
        return last_path

    # -- evaluation during training -------------------------------------------------
    def _eval_log_path(self) -> Path:
        return (self.log_path.parent if self.log_path else self.ckpt_dir.parent) / "eval_log.jsonl"

    def _samples_dir(self) -> Path:
        return self.ckpt_dir.parent / "samples"

    def _best_dir(self) -> Path:
        return self.ckpt_dir.parent / "best"

    @staticmethod
    def _check_writable(folder: Path) -> None:
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise DifflabError(
                f"cannot write evaluation samples to {folder} ({err.strerror or err}); train into a writable --out"
            ) from None

    def _evaluate(self, eval_log: JsonlLogger | None, board: TensorBoardLogger | None) -> None:
        """Rank 0 evaluates the EMA model (grid PNG, metric in the eval JSONL and TensorBoard); others wait.

        ``train.keep_best``: a metric lower than every earlier one writes this step's checkpoint to
        ``<run>/best/`` (atomic, one kept; the ``checkpoints/`` pruning never touches it).
        """
        if self.dist.is_main and self.evaluator is not None:
            result = self.evaluator(self.ema.model, self.step)
            value = result.metrics[METRIC]
            if result.images is not None:
                path = save_image_grid(
                    result.images, self._samples_dir() / f"step_{self.step:06d}.png", value_range=result.value_range
                )
                if board is not None:
                    board.image("eval/samples", self.step, path)
            if eval_log is not None:
                eval_log.log(step=self.step, **result.metrics, n=self.cfg.eval_n, time=time.time())
            if board is not None:
                board.log(self.step, prefix="eval", **result.metrics)
            if self.cfg.keep_best and math.isfinite(value) and (self.best is None or value < self.best):
                self.best = value
                tensors, extra = self.state_tensors()
                save_checkpoint(
                    self._best_dir(),
                    tensors,
                    config=self.config,
                    meta={"step": self.step, **self.meta, **extra},
                    keep_last=1,
                )
        barrier(self.dist)

    def _tensorboard_dir(self) -> Path:
        """``train.tensorboard_dir``, else ``tensorboard/`` next to the JSONL log (or the checkpoints)."""
        if self.cfg.tensorboard_dir:
            return Path(self.cfg.tensorboard_dir).expanduser()
        return (self.log_path.parent if self.log_path else self.ckpt_dir.parent) / "tensorboard"

    def _stop(self, signum: int) -> None:
        """Checkpoint the last completed step (unless it already is) and raise :class:`Interrupted`."""
        name = signal.Signals(signum).name
        if self.step > 0 and self.saved_step != self.step:
            self.save()
        if self.step == 0:
            what = "before the first step; nothing to save"
        else:
            what = f"after step {self.step}; checkpoint step_{self.step:06d} holds it"
        raise Interrupted(f"stopped by {name} {what} — rerun the same command to resume", 128 + int(signum))
