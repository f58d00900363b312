"""Allowed ranges of numeric config fields, declared next to each field.

``lr: float = bounded(2e-3, gt=0, le=10)`` declares a dataclass field whose metadata
carries a :class:`Range`; :func:`difflab.config.loader.load_config` checks it for every
field generically (on each item of a list field), and refuses NaN and ±Inf in every float
field unless the range says ``allow_inf=True``. ``None`` (an optional field left unset)
is always allowed.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

from difflab.errors import DifflabError

__all__ = ["RANGE_KEY", "Range", "bounded", "range_of"]

RANGE_KEY = "difflab_range"


@dataclass(frozen=True)
class Range:
    """Bounds of a numeric value: ``ge``/``gt`` below, ``le``/``lt`` above (``None``: unbounded)."""

    ge: float | None = None
    gt: float | None = None
    le: float | None = None
    lt: float | None = None
    allow_inf: bool = False

    def describe(self) -> str:
        low = f"[{_fmt(self.ge)}" if self.ge is not None else f"({_fmt(self.gt)}" if self.gt is not None else None
        high = f"{_fmt(self.le)}]" if self.le is not None else f"{_fmt(self.lt)})" if self.lt is not None else None
        if low and high:
            return f"in {low}, {high}"
        if low:
            return (">= " if low[0] == "[" else "> ") + low[1:]
        if high:
            return ("<= " if high[-1] == "]" else "< ") + high[:-1]
        return "a finite number"

    def contains(self, value: float) -> bool:
        if isinstance(value, float) and math.isnan(value):
            return False
        if isinstance(value, float) and math.isinf(value) and not self.allow_inf:
            return False
        return not (
            (self.ge is not None and value < self.ge)
            or (self.gt is not None and value <= self.gt)
            or (self.le is not None and value > self.le)
            or (self.lt is not None and value >= self.lt)
        )

    def check(self, value: Any, key: str) -> None:
        """Raise a one-line :class:`DifflabError` naming ``key`` if ``value`` is a number outside the range."""
        if value is None or isinstance(value, bool) or not isinstance(value, (int, float)):
            return
        if not self.contains(value):
            shown = repr(value) if len(repr(value)) <= 40 else f"{value:.3g}"
            finite = " (finite)" if isinstance(value, float) and not self.allow_inf else ""
            raise DifflabError(f"config key '{key}' must be {self.describe()}{finite}, got {shown}")


def _fmt(x: float) -> str:
    return str(int(x)) if float(x).is_integer() and abs(x) < 1e16 else f"{x:g}"


def bounded(
    default: Any = dataclasses.MISSING,
    *,
    default_factory: Any = dataclasses.MISSING,
    ge: float | None = None,
    gt: float | None = None,
    le: float | None = None,
    lt: float | None = None,
    allow_inf: bool = False,
) -> Any:
    """A dataclass field with a declared numeric range (checked by the config loader)."""
    rng = Range(ge=ge, gt=gt, le=le, lt=lt, allow_inf=allow_inf)
    if default is not dataclasses.MISSING:
        return dataclasses.field(default=default, metadata={RANGE_KEY: rng})
    return dataclasses.field(default_factory=default_factory, metadata={RANGE_KEY: rng})


def range_of(f: dataclasses.Field) -> Range | None:
    """The :class:`Range` a field declares, or ``None``."""
    return f.metadata.get(RANGE_KEY)
