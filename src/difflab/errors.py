"""The one exception type for errors a user can cause.

Library code raises :class:`DifflabError` with a message that says what was
wrong and what to do; the CLI prints it on one line and exits non-zero.
"""


class DifflabError(Exception):
    """An error caused by user input (config, data, checkpoint, arguments)."""


class DifflabWarning(UserWarning):
    """Something a user should know that does not stop the command (the CLI prints it on one line)."""


class Interrupted(KeyboardInterrupt):
    """Training stopped by a signal at a step boundary (or hard, by a second Ctrl-C).

    The message says which step was checkpointed; ``exit_code`` is what the CLI exits with
    (130 for SIGINT, 143 for SIGTERM: 128 + the signal number, like a shell).
    """

    def __init__(self, message: str, exit_code: int = 130):
        super().__init__(message)
        self.exit_code = exit_code
