"""The learning-rate multiplier per optimiser step: linear warm-up, then constant, cosine or linear decay.

``factor(step)`` multiplies ``train.lr`` for the optimiser step with index ``step`` (0-based):

- warm-up, ``step < W`` (``W = train.warmup_steps``): ``(step + 1) / W``, difflab's warm-up since the
  start (it reaches 1 at step ``W - 1``);
- then with progress ``p = min(1, (step - W) / (S - W))`` (``S = train.steps``) and ``r = train.lr_min_ratio``:
  ``constant``: 1; ``cosine``: ``r + (1 - r)(1 + cos πp)/2`` (Loshchilov & Hutter, SGDR, without restarts;
  diffusers' ``get_cosine_schedule_with_warmup`` for ``r = 0``); ``linear``: ``1 - (1 - r) p``.

The factor is a pure function of the step, so a resumed run (whose scheduler restores the step count)
follows the same learning rates as an uninterrupted one.
"""

import math

from difflab.config.schema import TrainConfig


def lr_factor(step: int, cfg: TrainConfig) -> float:
    """The multiplier of ``cfg.lr`` at optimiser step ``step`` (see the module docstring)."""
    warm = max(cfg.warmup_steps, 0)
    if step < warm:
        return (step + 1) / warm
    if cfg.lr_schedule == "constant":
        return 1.0
    p = min(1.0, (step - warm) / max(1, cfg.steps - warm))
    r = cfg.lr_min_ratio
    if cfg.lr_schedule == "cosine":
        return r + (1 - r) * 0.5 * (1 + math.cos(math.pi * p))
    return 1 - (1 - r) * p
