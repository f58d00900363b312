"""Probe training: fit a mixer on train trajectories, report test accuracy at the best-validation epoch.

Two named protocols (:data:`PROTOCOLS`). ``paper`` is Mittal et al.'s (arXiv
2210.13774, code traj_drl): Adam with weight decay 1e-5, batch 256, gradient
clipping at 1.0, mixer dropout 0.25, raw features, the best-validation epoch
over the full budget of 100 epochs, and a learning-rate sweep over
{1e-3, 7.5e-4, 5e-4, 2.5e-4, 1e-4, 5e-5} whose rate is chosen by validation
accuracy averaged over seeds (:func:`difflab.representations.study.probe_mixer`).
``quick`` is difflab's earlier protocol: lr 1e-3, batch 128, standardised
features, early stopping with patience 15, no clipping.

Every choice (rate, epoch) reads the validation split, carved from train by the
seed; the test split is only evaluated, never compared.
"""

from collections.abc import Callable
from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from difflab.errors import DifflabError
from difflab.representations.extract import Trajectories


@dataclass
class ProbeConfig:
    """Probe optimisation settings; the defaults are the ``quick`` protocol (see :data:`PROTOCOLS`)."""

    epochs: int = 100
    lr: float = 1e-3
    weight_decay: float = 1e-5
    batch_size: int = 128
    val_fraction: float = 0.1
    patience: int | None = 15  # epochs without improvement before stopping; None: the full budget
    device: str = "cpu"  # where the probes train (cpu, cuda, cuda:N); the split and batch order stay on the CPU
    lrs: tuple[float, ...] | None = None  # a sweep (chosen on validation); None: ``lr`` alone
    grad_clip: float | None = None  # max gradient norm; None: no clipping
    standardise: bool = True  # features scaled with train statistics
    dropout: float | None = None  # mixer dropout (see build_mixer); None: the quick layout
    batched: bool = True  # train a sweep's rates x seeds as one batched model (representations.grid); same results

    def rates(self) -> tuple[float, ...]:
        """The learning rates to try."""
        return tuple(self.lrs) if self.lrs else (self.lr,)


PAPER_LRS = (1e-3, 7.5e-4, 5e-4, 2.5e-4, 1e-4, 5e-5)
PROTOCOLS: dict[str, ProbeConfig] = {
    "paper": ProbeConfig(batch_size=256, patience=None, lrs=PAPER_LRS, grad_clip=1.0, standardise=False, dropout=0.25),
    "quick": ProbeConfig(),
}


def probe_protocol(name: str, **overrides) -> ProbeConfig:
    """The named protocol's settings with ``overrides`` (fields of :class:`ProbeConfig`) applied."""
    if name not in PROTOCOLS:
        raise DifflabError(f"unknown probe protocol {name!r}; choose {' or '.join(PROTOCOLS)}")
    return replace(PROTOCOLS[name], **overrides)


@dataclass
class ProbeResult:
    """Accuracies of one probe run; ``attention`` is the mean summary attention over t ``(K,)`` if any."""

    test_accuracy: float
    val_accuracy: float
    best_epoch: int
    attention: list[float] | None = None


def standardise(train: Tensor, *others: Tensor) -> list[Tensor]:
    """Scale every (time, feature) to zero mean, unit variance using ``train`` statistics ``(N, K, F)``."""
    mean, std = train.mean(0, keepdim=True), train.std(0, keepdim=True).clamp_min(1e-6)
    return [(x - mean) / std for x in (train, *others)]


def probe_splits(
    traj: Trajectories, seed: int, cfg: ProbeConfig
) -> tuple[torch.Generator, tuple[Tensor, Tensor], tuple[Tensor, Tensor], tuple[Tensor, Tensor]]:
    """The seed's generator and its (train, validation, test) ``(x, y)`` pairs on ``cfg.device``.

    The generator has drawn the validation split and goes on to draw the batch order, so every probe
    of one seed (whatever its rate) sees the same split and the same batches.
    """
    g = torch.Generator().manual_seed(seed)
    perm = torch.randperm(traj.train.shape[0], generator=g)
    n_val = max(1, int(round(cfg.val_fraction * len(perm))))
    val_idx, tr_idx = perm[:n_val], perm[n_val:]
    dev = torch.device(cfg.device)
    splits = (traj.train[tr_idx], traj.train[val_idx], traj.test)
    x_tr, x_val, x_te = (x.to(dev) for x in (standardise(*splits) if cfg.standardise else splits))
    y_tr, y_val, y_te = (y.to(dev) for y in (traj.train_labels[tr_idx], traj.train_labels[val_idx], traj.test_labels))
    return g, (x_tr, y_tr), (x_val, y_val), (x_te, y_te)


@torch.no_grad()
def _evaluate(model: nn.Module, x: Tensor, y: Tensor) -> tuple[float, float]:
    model.eval()
    logits = model(x)
    return (logits.argmax(1) == y).float().mean().item(), F.cross_entropy(logits, y).item()


def train_probe(
    make_model: Callable[[], nn.Module], traj: Trajectories, *, seed: int = 0, config: ProbeConfig | None = None
) -> ProbeResult:
    """Train one probe.

    Args:
        make_model: builds the mixer (called after seeding, so the seed fixes its init).
        traj: trajectories ``(N, K, F)`` with labels.
        seed: seeds the validation split, the initialisation and the batch order.
        config: optimisation settings.

    Returns:
        test accuracy at the epoch of best validation accuracy (ties: lower validation loss);
        ``config.lr`` is used (a sweep over ``config.lrs`` is :func:`~difflab.representations.study.probe_mixer`'s).
    """
    cfg = config or ProbeConfig()
    g, (x_tr, y_tr), (x_val, y_val), (x_te, y_te) = probe_splits(traj, seed, cfg)
    dev = x_tr.device
    torch.manual_seed(seed)
    model = make_model().to(dev)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    best = (-1.0, float("inf"))
    result = ProbeResult(0.0, 0.0, -1)
    stale = 0
    for epoch in range(cfg.epochs):
        model.train()
        for batch in torch.randperm(len(y_tr), generator=g).to(dev).split(cfg.batch_size):
            loss = F.cross_entropy(model(x_tr[batch]), y_tr[batch])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.grad_clip is not None:
                nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            opt.step()
        val_acc, val_loss = _evaluate(model, x_val, y_val)
        if (val_acc, -val_loss) > (best[0], -best[1]):
            best, stale = (val_acc, val_loss), 0
            test_acc, _ = _evaluate(model, x_te, y_te)
            weights = getattr(model, "last_attention", None)
            attention = None if weights is None else weights.mean(0).tolist()
            result = ProbeResult(test_acc, val_acc, epoch, attention)
        else:
            stale += 1
            if cfg.patience is not None and stale >= cfg.patience:
                break
    return result
