"""Probe training: fit a mixer on train trajectories, report test accuracy at the best-validation epoch.

As in Mittal et al. (arXiv 2210.13774): Adam with weight decay 1e-5, a
validation split carved from train, early stopping, one seed per run (the seed
sets the split, the initialisation and the batch order).
"""

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from difflab.representations.extract import Trajectories


@dataclass
class ProbeConfig:
    """Probe optimisation settings (defaults follow the paper where it says)."""

    epochs: int = 100
    lr: float = 1e-3
    weight_decay: float = 1e-5
    batch_size: int = 128
    val_fraction: float = 0.1
    patience: int = 15
    device: str = "cpu"  # where the probes train (cpu, cuda, cuda:N); the split and batch order stay on the CPU


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
        test accuracy at the epoch of best validation accuracy (ties: lower validation loss).
    """
    cfg = config or ProbeConfig()
    g = torch.Generator().manual_seed(seed)
    perm = torch.randperm(traj.train.shape[0], generator=g)
    n_val = max(1, int(round(cfg.val_fraction * len(perm))))
    val_idx, tr_idx = perm[:n_val], perm[n_val:]
    dev = torch.device(cfg.device)
    x_tr, x_val, x_te = (x.to(dev) for x in standardise(traj.train[tr_idx], traj.train[val_idx], traj.test))
    y_tr, y_val, y_te = (y.to(dev) for y in (traj.train_labels[tr_idx], traj.train_labels[val_idx], traj.test_labels))
    torch.manual_seed(seed)
    model = make_model().to(dev)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    best = (-1.0, float("inf"))
    result = ProbeResult(0.0, 0.0, -1)
    stale = 0
    for epoch in range(cfg.epochs):
        model.train()
        for batch in torch.randperm(len(tr_idx), generator=g).to(dev).split(cfg.batch_size):
            loss = F.cross_entropy(model(x_tr[batch]), y_tr[batch])
            opt.zero_grad(set_to_none=True)
            loss.backward()
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
            if stale >= cfg.patience:
                break
    return result
