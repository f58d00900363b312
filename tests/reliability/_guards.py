"""Shared checks for the fuzz tests: a case ends in a result or in one clean line, never a traceback or a hang."""

import contextlib
import signal
import threading

import pytest

from difflab.errors import DifflabError


@contextlib.contextmanager
def hang_guard(seconds: int, case: str):
    """Fail the case (instead of hanging the session) if it runs past ``seconds``; a guard, not a timing test."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def timeout(signum, frame):
        raise TimeoutError(f"hang: {case}")

    previous = signal.signal(signal.SIGALRM, timeout)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def outcome(fn, case: str, seconds: int = 20):
    """``("ok", result)`` or ``("error", message)``; any other exception fails the test naming the case."""
    try:
        with hang_guard(seconds, case):
            return "ok", fn()
    except DifflabError as exc:
        message = str(exc)
        assert message and "\n" not in message and len(message) < 600, f"{case}: not one short line: {message[:300]!r}"
        return "error", message
    except TimeoutError as exc:
        pytest.fail(str(exc))
    except Exception as exc:  # a traceback a user would see
        pytest.fail(f"{case}: {type(exc).__name__}: {str(exc)[:300]}")
