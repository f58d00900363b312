"""Class labels and classifier-free guidance (Ho & Salimans 2022) for a class-conditional run.

Guidance combines the conditional and the null-label (unconditional) predictions of one
network on x̂₀, the quantity every difflab denoiser returns:

    x̂₀ = x̂₀_uncond + W (x̂₀_cond − x̂₀_uncond).

W = 1 is the conditional model, W = 0 the unconditional one, W > 1 extrapolates past the
conditional model. x̂₀, ε and the score are affine in each other at a fixed (x_t, t), so this
is the same as guiding ε (Ho & Salimans' w = W − 1); being linear it also holds per whitened
component in every basis. Both predictions come from ONE batched forward of ``2B`` rows.
An optional interval ``(t_lo, t_hi)`` limits guidance to those diffusion times (Kynkäänniemi
et al. 2024, *Applying guidance in a limited interval*); outside it the conditional model is used.

The null label is the extra embedding row ``num_classes`` that training fills with
probability ``train.label_dropout``; a run trained with ``label_dropout = 0`` never trained it
and refuses guidance.
"""

import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from difflab.errors import DifflabError
from difflab.models.run import LoadedRun
from difflab.process.noise import sample_seeds

LABEL_SEED_OFFSET = 5_555_555  # keeps label draws independent of the sampler's noise streams


def run_num_classes(run: LoadedRun) -> int:
    """How many classes the run's network is conditioned on (0 for an unconditional run)."""
    if run.cfg is None or run.info is None:  # a bare LoadedRun around a denoiser (tests, wrappers)
        return 0
    return run.info.num_classes if run.cfg.network.class_conditional else 0


def check_labels(labels: Tensor, num_classes: int) -> Tensor:
    """``labels`` as int64 ``(n,)`` if every entry is a class id in ``[0, num_classes − 1]``.

    Raises:
        DifflabError: for labels given to an unconditional run or outside the range.
    """
    if num_classes == 0:
        raise DifflabError("labels were given but this run is not class-conditional (network.class_conditional)")
    labels = torch.as_tensor(labels)
    if labels.dtype.is_floating_point or labels.dim() != 1:
        raise DifflabError(f"labels must be a 1-d list of integer class ids, got {tuple(labels.shape)} {labels.dtype}")
    if labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= num_classes):
        bad = int(labels.min()) if int(labels.min()) < 0 else int(labels.max())
        raise DifflabError(f"label {bad} is out of range: this run has classes 0..{num_classes - 1}")
    return labels.long()


def random_labels(n: int, seed: int, num_classes: int) -> Tensor:
    """Uniform class ids ``(n,)``; sample i's label depends on ``(seed, i)`` only."""
    return torch.tensor(
        [
            int(torch.randint(num_classes, (1,), generator=torch.Generator().manual_seed(s)))
            for s in sample_seeds(seed, n, offset=LABEL_SEED_OFFSET)
        ],
        dtype=torch.long,
    )


def check_guidance(run: LoadedRun, guidance: float, interval: Sequence[float] | None) -> tuple[float, float]:
    """Validate a guidance request against the run; returns the interval ``(t_lo, t_hi)``.

    Raises:
        DifflabError: for an unconditional run, one trained with ``label_dropout = 0``, a
            non-finite or negative W, or a bad interval.
    """
    if run_num_classes(run) == 0:
        raise DifflabError("guidance needs a class-conditional run (network.class_conditional: true)")
    if run.cfg.train.label_dropout <= 0:
        raise DifflabError(
            "this run was trained with train.label_dropout = 0, so its null label was never trained; "
            "guidance needs label_dropout > 0 (e.g. configs/digits-cond.yaml)"
        )
    if not math.isfinite(guidance) or guidance < 0:
        raise DifflabError(
            f"guidance W must be a finite number >= 0 (1 = conditional, 0 = unconditional), got {guidance}"
        )
    lo, hi = (0.0, 1.0) if interval is None else (float(interval[0]), float(interval[1]))
    if not 0.0 <= lo <= hi <= 1.0:
        raise DifflabError(f"guidance interval needs 0 <= t_lo <= t_hi <= 1, got ({lo}, {hi})")
    return lo, hi


class GuidedDenoiser(nn.Module):
    """``denoiser`` with classifier-free guidance of weight ``w`` inside ``[t_lo, t_hi]``.

    Args:
        denoiser: the conditional denoiser ``(x_t, t, labels=..., **cond) -> x̂₀``.
        w: guidance weight W (1 conditional, 0 unconditional).
        null_label: the null class id (the network's ``num_classes``).
        interval: ``(t_lo, t_hi)``; rows whose t is outside get the conditional x̂₀.
    """

    def __init__(self, denoiser: nn.Module, w: float, null_label: int, interval: tuple[float, float] = (0.0, 1.0)):
        super().__init__()
        self.inner = denoiser
        self.w = float(w)
        self.null_label = int(null_label)
        self.t_lo, self.t_hi = interval

    def forward(self, x_t: Tensor, t: Tensor, *, labels: Tensor, **cond) -> Tensor:
        """x̂₀ ``(B, *shape)``; exactly the conditional call at W = 1 and the null-label call at W = 0."""
        t_rows = torch.as_tensor(t).expand(x_t.shape[0])
        inside = (t_rows >= self.t_lo) & (t_rows <= self.t_hi)
        if self.w == 1.0 or not bool(inside.any()):
            return self.inner(x_t, t, labels=labels, **cond)
        null = torch.full_like(labels, self.null_label)
        if self.w == 0.0 and bool(inside.all()):
            return self.inner(x_t, t, labels=null, **cond)
        pair_cond = {k: torch.cat([v, v]) if isinstance(v, Tensor) else v for k, v in cond.items()}
        both = self.inner(
            torch.cat([x_t, x_t]), torch.cat([t_rows, t_rows]), labels=torch.cat([labels, null]), **pair_cond
        )
        x0_cond, x0_uncond = both.chunk(2)
        guided = x0_uncond + self.w * (x0_cond - x0_uncond)
        mask = inside.reshape(-1, *([1] * (x_t.dim() - 1)))
        return torch.where(mask, guided, x0_cond)
