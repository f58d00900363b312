"""Exponential moving average of a network's parameters (kept for sampling)."""

import copy

import torch
from torch import nn


class EMA:
    """Shadow copy of ``model`` updated as p_ema ← d·p_ema + (1 − d)·p.

    The effective decay warms up as min(decay, (1 + n) / (10 + n)) so that a
    short run is not dominated by the random initialisation.
    """

    def __init__(self, model: nn.Module, decay: float):
        self.decay = float(decay)
        self.model = copy.deepcopy(model).eval().requires_grad_(False)
        self.updates = 0

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        self.updates += 1
        d = min(self.decay, (1 + self.updates) / (10 + self.updates))
        ema_params = list(self.model.parameters())
        params = [p.detach() for p in model.parameters()]
        torch._foreach_lerp_(ema_params, params, 1.0 - d)
        for b_ema, b in zip(self.model.buffers(), model.buffers()):
            b_ema.copy_(b)
