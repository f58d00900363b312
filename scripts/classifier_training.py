"""The training loop and asset writer the shipped FD classifiers share.

``train_digits_classifier.py`` and ``train_mnist_classifier.py`` differ only in data, network, shift
augmentation and defaults; both call :func:`train_and_save`. The order of random draws (batch
indices, then the script's own shift) is part of the contract: it keeps the shipped weights
reproducible bit for bit.
"""

import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import save_file

DEFAULT_OUT = Path(__file__).resolve().parents[1] / "src" / "difflab" / "assets"


def accuracy(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    return float((model.predict(x) == y).float().mean())


def atomic_write(path: Path, write: Callable[[Path], object]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    write(tmp)
    os.chmod(tmp, 0o644)  # package data must be world-readable
    os.replace(tmp, path)


def seed_everything(seed: int) -> torch.Generator:
    """One thread and fixed seeds make the weights reproducible bit for bit on CPU."""
    torch.set_num_threads(1)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True)
    return torch.Generator().manual_seed(seed)


def train_and_save(
    model: torch.nn.Module,
    data: tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor],
    shift: Callable[[torch.Tensor, torch.Generator], torch.Tensor],
    gen: torch.Generator,
    args,
    names: tuple[str, str],
    meta: dict,
    log_every: int,
) -> None:
    """Train ``model`` with AdamW + one-cycle LR on shifted batches, then write weights + metadata.

    ``args`` carries ``steps``, ``batch_size``, ``lr``, ``seed`` and ``out_dir``; ``names`` is
    (weights file, metadata file); ``meta`` holds the script's own entries (input, timing flag).
    """
    xtr, ytr, xte, yte = data
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, total_steps=args.steps)
    start = time.time()
    for step in range(1, args.steps + 1):
        idx = torch.randint(0, len(xtr), (args.batch_size,), generator=gen)
        loss = F.cross_entropy(model(shift(xtr[idx], gen)), ytr[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        if step % log_every == 0 or step == args.steps:
            print(f"step {step}/{args.steps}  loss {loss.item():.4f}  {time.time() - start:.1f}s", flush=True)
    seconds = time.time() - start

    model.eval()
    train_acc, test_acc = accuracy(model, xtr, ytr), accuracy(model, xte, yte)
    print(f"train accuracy {train_acc:.4f}  test accuracy {test_acc:.4f} (n={len(yte)})")

    weights_name, meta_name = names
    args.out_dir.mkdir(parents=True, exist_ok=True)
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    atomic_write(args.out_dir / weights_name, lambda p: save_file(state, str(p)))
    script = Path(sys.argv[0]).name
    full = {
        "architecture": model.config,
        "test_accuracy": test_acc,
        "train_accuracy": train_acc,
        "n_test": len(yte),
        "seed": args.seed,
        "steps": args.steps,
        "batch_size": args.batch_size,
        "lr": args.lr,
    }
    if meta.pop("record_seconds", False):
        full["train_seconds"] = round(seconds, 1)
    full.update(meta)
    full["torch_version"] = torch.__version__
    full["command"] = " ".join([f"python scripts/{script}", *sys.argv[1:]])
    atomic_write(args.out_dir / meta_name, lambda p: p.write_text(json.dumps(full, indent=2) + "\n"))
    print(f"wrote {args.out_dir / weights_name}")
