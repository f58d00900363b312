"""A grid of probes (learning rates x seeds) of one mixer, trained at once as one batched model.

:func:`~difflab.representations.probe.train_probe` run once per (rate, seed) spends its time on
per-call overhead: ~6 optimiser steps of a tiny model per epoch, each a few dozen small kernels.
Here the grid's parameters are stacked along a leading axis and every probe steps at once through
``torch.func.vmap`` over the mixer's own forward (``functional_call``), so the arithmetic is the
mixer's and each probe's random draws are the ones ``train_probe`` makes for it:

- split and batch order from the seed's generator (:func:`~difflab.representations.probe.probe_splits`);
- initialisation under ``torch.manual_seed(seed)``;
- every dropout mask from the stream ``torch.manual_seed(seed)`` continues after the
  initialisation, in call order, with ``bernoulli_(1 - p) / (1 - p)`` — the mask ``F.dropout``
  draws on the CPU (``tests/representations/test_grid.py`` checks the results against the loop);
- Adam (``torch.optim.Adam``, one parameter group per rate) and per-probe gradient clipping with
  ``clip_grad_norm_``'s formula.

Masks are drawn on the CPU and moved to the probes' device, so on a GPU the grid reproduces a CPU
``train_probe`` run's randomness (``train_probe`` on a GPU draws from the GPU's generator instead).

A probe's test accuracy is read once, after training, from its best-validation parameters (the
loop reads it at that epoch: the same parameters). Mixers whose randomness is not all in
``nn.Dropout`` modules (attention-weight dropout inside ``nn.MultiheadAttention``) are not
replayable; :func:`replayable` says so and the caller trains them one by one.
"""

import copy
import warnings
from collections.abc import Callable, Sequence
from itertools import product

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.func import functional_call, vmap

from difflab.representations.extract import Trajectories
from difflab.representations.probe import ProbeConfig, ProbeResult, _evaluate, probe_splits


def replayable(model: nn.Module) -> bool:
    """True when every random draw of ``model``'s training forward is an ``nn.Dropout`` module's."""
    return not any(isinstance(m, nn.MultiheadAttention) and m.dropout > 0 for m in model.modules())


class _ReplayDropout(nn.Module):
    """Stands in for an ``nn.Dropout`` in the batched model: multiplies by the next prepared mask."""

    def __init__(self, p: float, queue: list):
        super().__init__()
        self.p, self.queue = p, queue

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or self.p == 0:
            return x
        return x * self.queue.pop(0)


def _replay_copy(model: nn.Module, queue: list) -> nn.Module:
    """A copy of ``model`` with each ``nn.Dropout`` replaced by a :class:`_ReplayDropout` reading ``queue``."""
    base = copy.deepcopy(model)
    for name, module in list(base.named_modules()):
        if isinstance(module, nn.Dropout):
            parent, _, child = name.rpartition(".")
            setattr(base.get_submodule(parent), child, _ReplayDropout(module.p, queue))
    return base


def _dropout_calls(model: nn.Module, x: Tensor) -> list[tuple[float, torch.Size]]:
    """``(p, shape)`` of each dropout draw of one training forward on ``x``, in call order."""
    calls = []
    hooks = [
        m.register_forward_pre_hook(lambda m, args: calls.append((m.p, args[0].shape)))
        for m in model.modules()
        if isinstance(m, nn.Dropout) and m.p > 0
    ]
    with torch.random.fork_rng(devices=[]), torch.no_grad():
        model.train()(x)
    for h in hooks:
        h.remove()
    return calls


def train_probe_grid(
    make_model: Callable[[], nn.Module],
    views: Sequence[Trajectories],
    *,
    seeds: Sequence[int],
    config: ProbeConfig | None = None,
) -> list[dict[tuple[float, int], ProbeResult]]:
    """Train one probe per (view, rate in ``config.rates()``, seed) at once; the same results as the loop.

    Args:
        make_model: builds the mixer (called after seeding, as in ``train_probe``); must be
            :func:`replayable`.
        views: trajectories ``(N, K, F)`` of one shape with the same labels, e.g. one time point
            each (``K = 1``) for the single-time probes; one probe grid per view.
        seeds: the probe seeds.
        config: optimisation settings (``patience`` must be None: the grid runs the full budget).

    Returns:
        per view, ``{(lr, seed): ProbeResult}``, equal to ``train_probe(make_model, view, seed=seed,
        config=replace(config, lr=lr))`` up to float rounding.
    """
    cfg = config or ProbeConfig()
    if cfg.patience is not None:
        raise ValueError("train_probe_grid runs the full budget; use patience=None")
    lrs, seeds = cfg.rates(), list(seeds)
    n_rates, n_views, n_seeds = len(lrs), len(views), len(seeds)
    data = [[probe_splits(v, s, cfg) for s in seeds] for v in views]
    gens = [d[0] for d in data[0]]  # the split and batch order depend on the seed alone

    def stacked(part: int, i: int) -> Tensor:  # (V, S, N, ...)
        return torch.stack([torch.stack([d[part][i] for d in per_view]) for per_view in data])

    x_tr, x_val = stacked(1, 0), stacked(2, 0)
    y_tr, y_val = stacked(1, 1)[0], stacked(2, 1)[0]  # (S, N): labels are the views' common ones
    dev = x_tr.device
    models, masks_rng = [], []
    for s in seeds:
        torch.manual_seed(s)
        models.append(make_model().to(dev))
        masks_rng.append(torch.Generator().set_state(torch.get_rng_state()))
    template = models[0]
    if not replayable(template):
        raise ValueError("this mixer draws random numbers outside nn.Dropout; train it with train_probe")
    queue: list = []
    base = _replay_copy(template, queue)
    names = [n for n, _ in template.named_parameters()]

    def init(n: str) -> Tensor:  # (V, S, *shape): every view and rate starts from the seeds' initialisations
        one = torch.stack([dict(m.named_parameters())[n].detach() for m in models])
        return one.expand(n_views, *one.shape).clone().requires_grad_()

    leaves = [{n: init(n) for n in names} for _ in lrs]  # one leaf per (rate, parameter)
    opt = torch.optim.Adam(
        [{"params": list(group.values()), "lr": lr} for group, lr in zip(leaves, lrs, strict=True)],
        weight_decay=cfg.weight_decay,
    )

    def params() -> dict[str, Tensor]:
        return {n: torch.stack([group[n] for group in leaves]) for n in names}  # (L, V, S, *shape)

    def forward(p: dict, x: Tensor, masks: list[Tensor]) -> Tensor:
        queue[:] = masks
        return functional_call(base, p, (x,))

    # inner vmap over seeds (own data, own masks), then views (own data), then rates (sharing both)
    nested = vmap(vmap(vmap(forward), in_dims=(0, 0, None)), in_dims=(0, None, None))

    def batched(p: dict, x: Tensor, masks: list[Tensor]) -> Tensor:
        with warnings.catch_warnings():  # GRUCell / MHA run per probe under vmap (correct, said in _grid_trains)
            warnings.filterwarnings("ignore", message="There is a performance drop")
            return nested(p, x, masks)

    def mean_loss(logits: Tensor, y: Tensor) -> Tensor:  # (L, V, S, B, C), (S, B) -> (L, V, S)
        y = y.expand(*logits.shape[:2], *y.shape)
        return F.cross_entropy(logits.flatten(0, 3), y.flatten(), reduction="none").view(y.shape).mean(-1)

    shapes: dict[int, list] = {}
    grid = (n_rates, n_views, n_seeds)
    best_acc = torch.full(grid, -1.0, device=dev)
    best_loss = torch.full(grid, float("inf"), device=dev)
    best_epoch = torch.full(grid, -1, dtype=torch.long, device=dev)
    best = {n: torch.zeros_like(v) for n, v in params().items()}
    rows = torch.arange(n_seeds, device=dev)[:, None]
    for epoch in range(cfg.epochs):
        base.train()
        orders = torch.stack([torch.randperm(y_tr.shape[1], generator=g) for g in gens]).to(dev)  # (S, N_tr)
        for idx in orders.split(cfg.batch_size, dim=1):
            xb, yb = x_tr[:, rows, idx], y_tr[rows, idx]
            if idx.shape[1] not in shapes:
                shapes[idx.shape[1]] = _dropout_calls(template, xb[0, 0])
            masks = [
                torch.stack([torch.empty(shape).bernoulli_(1 - p, generator=g).div_(1 - p) for g in masks_rng]).to(dev)
                for p, shape in shapes[idx.shape[1]]
            ]
            # the sum of the probes' mean losses: each probe's gradient is its own loss's
            loss = mean_loss(batched(params(), xb, masks), yb)
            opt.zero_grad(set_to_none=True)
            loss.sum().backward()
            if cfg.grad_clip is not None:
                _clip_per_probe(leaves, cfg.grad_clip)
            opt.step()
        with torch.no_grad():
            base.eval()
            p = params()
            logits = batched(p, x_val, [])
            acc = (logits.argmax(-1) == y_val).float().mean(-1)
            val_loss = mean_loss(logits, y_val)
            better = (acc > best_acc) | ((acc == best_acc) & (val_loss < best_loss))
            best_acc, best_loss = torch.where(better, acc, best_acc), torch.where(better, val_loss, best_loss)
            best_epoch[better] = epoch
            for n in names:
                best[n][better] = p[n][better]
    results = [{} for _ in views]
    for (i, lr), (v, _), (j, seed) in product(enumerate(lrs), enumerate(views), enumerate(seeds)):
        model = models[j]
        with torch.no_grad():
            for n, w in model.named_parameters():
                w.copy_(best[n][i, v, j])
        x_te, y_te = data[v][j][3]
        test_acc, _ = _evaluate(model, x_te, y_te)
        weights = getattr(model, "last_attention", None)
        attention = None if weights is None else weights.mean(0).tolist()
        results[v][lr, seed] = ProbeResult(test_acc, best_acc[i, v, j].item(), int(best_epoch[i, v, j]), attention)
    return results


def _clip_per_probe(leaves: list[dict[str, Tensor]], max_norm: float) -> None:
    """``clip_grad_norm_`` applied to each probe's gradients separately (probes along dims 0, 1)."""
    for group in leaves:
        grads = [v.grad for v in group.values() if v.grad is not None]
        norms = torch.stack([torch.linalg.vector_norm(g.flatten(2), 2, dim=2) for g in grads], dim=2)
        coef = (max_norm / (torch.linalg.vector_norm(norms, 2, dim=2) + 1e-6)).clamp(max=1.0)  # (V, S)
        for g in grads:
            g.mul_(coef.view(*coef.shape, *([1] * (g.dim() - 2))))
