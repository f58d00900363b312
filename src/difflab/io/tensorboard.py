"""TensorBoard event files for ``train.logger: tensorboard`` (the JSONL log stays the source of truth).

The ``tensorboard`` package is an optional extra (``pip install 'difflab[tensorboard]'``); the writer is
``torch.utils.tensorboard.SummaryWriter``. A resumed run passes ``purge_step``: TensorBoard then hides
the events an interrupted run wrote after the checkpoint it resumes from, as the JSONL log is cut back.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from difflab.errors import DifflabError

MISSING_EXTRA = "train.logger=tensorboard needs the tensorboard package: pip install 'difflab[tensorboard]'"


def check_tensorboard() -> None:
    """Raise a one-line :class:`DifflabError` naming the extra if ``tensorboard`` is not installed."""
    if importlib.util.find_spec("tensorboard") is None:
        raise DifflabError(MISSING_EXTRA)


class TensorBoardLogger:
    """Scalars ``train/<name>`` (and ``eval/<name>``) per step, and evaluation sample grids, in ``log_dir``.

    Args:
        log_dir: folder for the event files (created).
        purge_step: on resume, the checkpoint's step + 1: an earlier run's events from this step on are hidden.

    Raises:
        DifflabError: missing package, or ``log_dir`` cannot be created or written.
    """

    def __init__(self, log_dir: str | Path, purge_step: int | None = None) -> None:
        check_tensorboard()
        from torch.utils.tensorboard import SummaryWriter  # imports tensorboard: only when asked for

        self.log_dir = Path(log_dir)
        try:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            self._writer = SummaryWriter(log_dir=str(self.log_dir), purge_step=purge_step)
            self._writer.flush()
        except OSError as err:
            raise DifflabError(
                f"cannot write TensorBoard logs to {self.log_dir} ({err.strerror or err}); "
                "set train.tensorboard_dir to a writable folder"
            ) from None

    def log(self, step: int, prefix: str = "train", **scalars: Any) -> None:
        """Write each ``name=value`` as the scalar ``<prefix>/<name>`` at ``step``."""
        for name, value in scalars.items():
            self._writer.add_scalar(f"{prefix}/{name}", float(value), global_step=step)
        self._writer.flush()

    def image(self, tag: str, step: int, path: str | Path) -> None:
        """Write the image file ``path`` (e.g. a sample grid PNG) as the image ``tag`` at ``step``."""
        import numpy as np
        from PIL import Image

        with Image.open(path) as img:
            pixels = np.asarray(img.convert("RGB"))
        self._writer.add_image(tag, pixels, global_step=step, dataformats="HWC")
        self._writer.flush()

    def close(self) -> None:
        self._writer.close()
