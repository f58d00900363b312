"""Minibatch Adam with early stopping, for the small auxiliary networks fitted on codes.

The learned code prior (MADE) and the DMZ code map share this loop, so both shuffle, step and keep
their best epoch the same way.
"""

import math
from collections.abc import Callable

import torch
from torch import Tensor, nn


def fit_early_stopped(
    model: nn.Module,
    batch_loss: Callable[[Tensor], Tensor],
    n: int,
    *,
    epochs: int,
    lr: float,
    weight_decay: float,
    batch_size: int,
    generator: torch.Generator,
    score: Callable[[], float] | None = None,
) -> int:
    """Train ``model`` in place; return the epoch (1-based) whose weights it ends with.

    Each epoch steps Adam over minibatches of a permutation of ``range(n)`` drawn from ``generator``;
    ``batch_loss(indices)`` is the loss of one minibatch. With ``score`` (a held-out loss, called in
    eval mode after each epoch), the weights of the epoch with the lowest score are kept; without
    it, the last epoch's. The model is left in eval mode.
    """
    opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    best, best_state, best_epoch = math.inf, None, epochs
    for epoch in range(epochs):
        model.train()
        order = torch.randperm(n, generator=generator)
        for start in range(0, n, batch_size):
            loss = batch_loss(order[start : start + batch_size])
            opt.zero_grad()
            loss.backward()
            opt.step()
        if score is not None:
            model.eval()
            value = score()
            if value < best:
                best, best_epoch = value, epoch + 1
                best_state = {k: v.clone() for k, v in model.state_dict().items()}
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    return best_epoch
