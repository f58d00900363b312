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


def effective_precision(device: torch.device, precision: str) -> str:
    """The precision a run trains in: ``fp32`` on the CPU, ``fp16`` for ``bf16`` on a GPU without bf16, else as set."""
    if device.type != "cuda":
        return "fp32"
    if precision == "bf16" and not torch.cuda.is_bf16_supported():
        return "fp16"  # pre-Ampere GPUs: fp16 autocast with a GradScaler instead
    return precision


def autocast_for(device: torch.device, precision: str) -> AbstractContextManager:
    """bf16 or fp16 autocast on CUDA (``precision`` ``bf16`` / ``fp16``); a no-op context otherwise (CPU: fp32)."""
    if device.type == "cuda" and precision in ("bf16", "fp16"):
        return torch.autocast("cuda", dtype=torch.bfloat16 if precision == "bf16" else torch.float16)
    return nullcontext()
