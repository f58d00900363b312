"""The one exception type for errors a user can cause.

Library code raises :class:`DifflabError` with a message that says what was
wrong and what to do; the CLI prints it on one line and exits non-zero.
"""


class DifflabError(Exception):
    """An error caused by user input (config, data, checkpoint, arguments)."""
