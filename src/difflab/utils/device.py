"""Device helpers shared by training, analysis, benchmarks and experiments."""

from contextlib import AbstractContextManager, nullcontext

import torch

from difflab.errors import DifflabError


def pick_device(name: str | torch.device = "auto", *, what: str = "--device") -> torch.device:
    """The device a user asked for: ``auto`` (CUDA when present, else CPU), ``cpu``, ``cuda`` or ``cuda:N``.

    Raises:
        DifflabError: for an unknown name, or CUDA asked for where there is none (one line, not a traceback).
    """
    if isinstance(name, str) and name.strip().lower() == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError):
        raise DifflabError(f"{what} must be auto, cpu, cuda or cuda:N, got {name!r}") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise DifflabError(f"{what} asks for CUDA but no GPU is available; use {what} cpu (or auto)")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise DifflabError(f"{what} asks for GPU {device.index} but only {torch.cuda.device_count()} are visible")
    elif device.type != "cpu":
        raise DifflabError(f"{what} must be auto, cpu, cuda or cuda:N, got {name!r}")
    return device


def sync_device(device: torch.device) -> None:
    """Wait for queued CUDA work (so a host clock reads the real time); no-op on the CPU."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def autocast_for(device: torch.device, precision: str) -> AbstractContextManager:
    """bf16 autocast on CUDA when ``precision == "bf16"``; a no-op context otherwise (the CPU trains in fp32)."""
    if device.type == "cuda" and precision == "bf16":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return nullcontext()
