"""Device helpers shared by training, analysis, benchmarks and experiments."""

from contextlib import AbstractContextManager, nullcontext

import torch


def sync_device(device: torch.device) -> None:
    """Wait for queued CUDA work (so a host clock reads the real time); no-op on the CPU."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def autocast_for(device: torch.device, precision: str) -> AbstractContextManager:
    """bf16 autocast on CUDA when ``precision == "bf16"``; a no-op context otherwise (the CPU trains in fp32)."""
    if device.type == "cuda" and precision == "bf16":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return nullcontext()
