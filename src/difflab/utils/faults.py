"""Named fault-injection points: no-ops unless a test installs a hook.

The reliability tests (``tests/reliability/``) kill or signal a training process at an
exact point of a step or of a checkpoint write, instead of guessing with timers:
``set_fault_hook(fn)`` makes every ``fault_point(name, **info)`` call ``fn(name, info)``.
Points: ``step:after_batch``, ``step:after_backward``, ``step:after_optimizer``,
``step:after_ema``, ``step:end`` (trainer); ``save:weights``, ``save:meta``,
``save:before_rename``, ``save:before_prune``, ``prune:renamed`` (checkpoints).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["fault_point", "set_fault_hook"]

FaultHook = Callable[[str, dict[str, Any]], None]
_hook: FaultHook | None = None


def set_fault_hook(hook: FaultHook | None) -> FaultHook | None:
    """Install ``hook`` (``None`` removes it); returns the previous one."""
    global _hook
    previous, _hook = _hook, hook
    return previous


def fault_point(name: str, **info: Any) -> None:
    """Call the installed hook, if any, with this point's name and details."""
    if _hook is not None:
        _hook(name, info)
