"""Time points of a trajectory representation.

Mittal et al., *From Points to Functions* (arXiv 2210.13774): a representation
at k time points uses k + 1 evenly spaced points on [0, 1]; k = 1 is the
single-time baseline at t = 0.5.
"""

from collections.abc import Sequence

from difflab.errors import DifflabError


def trajectory_times(k: int | Sequence[float]) -> list[float]:
    """Times of a trajectory, ordered clean (t = 0) to noisy (t = 1).

    Args:
        k: number of intervals (``k + 1`` evenly spaced points on [0, 1]; 1 gives
            ``[0.5]``), or an explicit list of times in [0, 1].

    Returns:
        the sorted list of times, ``K`` floats.
    """
    if isinstance(k, int):
        if k < 1:
            raise DifflabError(f"--times must be >= 1 (number of intervals), got {k}")
        return [0.5] if k == 1 else [i / k for i in range(k + 1)]
    times = sorted(float(t) for t in k)
    if not times or any(not 0.0 <= t <= 1.0 for t in times):
        raise DifflabError(f"times must be a non-empty list of values in [0, 1], got {list(k)}")
    if len(set(times)) != len(times):
        raise DifflabError(f"times must be distinct, got {list(k)}")
    return times


def parse_times(text: str) -> list[float]:
    """``"10"`` -> 11 evenly spaced times; ``"0.1,0.5,0.9"`` -> that list."""
    text = text.strip()
    try:
        if "," not in text and "." not in text:
            return trajectory_times(int(text))
        return trajectory_times([float(v) for v in text.split(",") if v.strip()])
    except ValueError:
        raise DifflabError(f"--times takes an integer k or comma-separated times in [0, 1], got {text!r}") from None
