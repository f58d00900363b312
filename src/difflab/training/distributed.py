"""torch.distributed set-up for runs under ``torchrun`` (DDP; gloo on CPU, nccl on GPU).

A plain ``python``/``difflab`` call is a world of one and touches nothing here.
"""

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from difflab.errors import DifflabError


@dataclass
class DistInfo:
    """Where this process sits in the job."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


def init_distributed(device: torch.device) -> DistInfo:
    """Join the process group when launched by torchrun (``WORLD_SIZE`` > 1)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistInfo()
    if not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        dist.init_process_group(backend=backend)
    return DistInfo(
        rank=dist.get_rank(), world_size=dist.get_world_size(), local_rank=int(os.environ.get("LOCAL_RANK", "0"))
    )


def resolve_device(name: str) -> torch.device:
    """``auto`` -> CUDA when present (this rank's local device), else CPU."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    device = torch.device(name)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise DifflabError("train.device asks for CUDA but no GPU is available; use train.device=cpu")
        if device.index is None:
            device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        if device.index >= torch.cuda.device_count():
            raise DifflabError(
                f"train.device needs GPU {device.index} but only {torch.cuda.device_count()} are "
                "visible; start at most that many processes per node, or use train.device=cpu"
            )
        torch.cuda.set_device(device)
    return device


def barrier(info: DistInfo) -> None:
    if info.enabled:
        dist.barrier()


def all_reduce_mean(value: torch.Tensor, info: DistInfo) -> torch.Tensor:
    if info.enabled:
        # NCCL reduces CUDA tensors only; gloo takes either.
        home = value.device
        on = torch.device("cuda", torch.cuda.current_device()) if dist.get_backend() == "nccl" else home
        value = value.detach().to(on, copy=True)
        dist.all_reduce(value)
        value = (value / info.world_size).to(home)
    return value


def shutdown(info: DistInfo) -> None:
    if info.enabled and dist.is_initialized():
        dist.destroy_process_group()
