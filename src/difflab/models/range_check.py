"""A one-line warning when generated samples are mostly far outside the data's range.

A diverging sampler (e.g. EDM-form Heun at 2-4 uniform steps) returns finite values that
``Normaliser.decode`` then clamps into the data range, so the pictures look saturated but
nothing fails. This check makes that visible: a value counts as out of range when it is
beyond the range by more than ``margin`` × its width (in normalised space).
"""

import torch
from torch import Tensor

from difflab.data.base import Normaliser

MARGIN = 0.1  # of the range width; a well-trained digits model has ~0% beyond it, a diverged sampler 50-90%
MOSTLY = 0.25  # warn above this fraction


def out_of_range_fraction(samples: Tensor, normaliser: Normaliser, margin: float = MARGIN) -> float | None:
    """Fraction of the values of ``samples`` (normalised space) beyond the data range ± margin; None if unbounded."""
    if normaliser.value_range is None:
        return None
    low, high = (normaliser.encode(torch.full((1, *samples.shape[1:]), v)) for v in normaliser.value_range)
    width = high - low
    outside = (samples < low - margin * width) | (samples > high + margin * width)
    return float(outside.float().mean())


def range_warning(samples: Tensor, normaliser: Normaliser, what: str = "samples") -> str | None:
    """A one-line warning if more than :data:`MOSTLY` of the values are far out of range, else None."""
    frac = out_of_range_fraction(samples, normaliser)
    if frac is None or frac <= MOSTLY:
        return None
    return (
        f"warning: {frac:.0%} of the {what}' values lie far outside the data range and will be clamped; "
        "the sampler probably diverged (try more steps, another sampler, or --clip-x0)"
    )
