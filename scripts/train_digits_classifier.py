"""Train the shipped digits classifier used for classifier-Fréchet distance.

Trains :class:`difflab.metrics.digits_classifier.DigitsClassifier` on the
digits TRAIN split only (``difflab.data.digits_split``), with random ±1 pixel
shifts, deterministically under ``--seed`` on CPU (about a minute), then
writes ``digits_classifier.safetensors`` and ``digits_classifier.json``
(architecture, test accuracy, command) to ``src/difflab/assets/``.

Usage: python scripts/train_digits_classifier.py [--seed 0] [--steps 2000]
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

from difflab.data.digits_split import digits_split
from difflab.metrics.digits_classifier import META_NAME, WEIGHTS_NAME, DigitsClassifier, normalise_digits

DEFAULT_OUT = Path(__file__).resolve().parents[1] / "src" / "difflab" / "assets"


def random_shift(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Shift each image ``(B, 1, 8, 8)`` by a random offset in {-1, 0, 1}² (background fill)."""
    b, _, h, w = x.shape
    padded = F.pad(x, (1, 1, 1, 1), value=-1.0)  # -1 is the blank background in model space
    crops = torch.stack([padded[:, :, dy : dy + h, dx : dx + w] for dy in range(3) for dx in range(3)])
    pick = torch.randint(0, 9, (b,), generator=gen)
    return crops[pick, torch.arange(b)]


def accuracy(model: DigitsClassifier, x: torch.Tensor, y: torch.Tensor) -> float:
    return float((model.predict(x) == y).float().mean())


def atomic_write(path: Path, write) -> None:
    tmp = path.with_name(path.name + ".tmp")
    write(tmp)
    os.chmod(tmp, 0o644)  # package data must be world-readable
    os.replace(tmp, path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--out-dir", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()

    # One thread and fixed seeds make the weights reproducible bit for bit on CPU.
    torch.set_num_threads(1)
    torch.manual_seed(args.seed)
    torch.use_deterministic_algorithms(True)
    gen = torch.Generator().manual_seed(args.seed)

    x_tr, y_tr, x_te, y_te = digits_split()
    xtr, ytr = torch.from_numpy(normalise_digits(x_tr)), torch.from_numpy(y_tr)
    xte, yte = torch.from_numpy(normalise_digits(x_te)), torch.from_numpy(y_te)

    model = DigitsClassifier()
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
        if step % 500 == 0 or step == args.steps:
            print(f"step {step}/{args.steps}  loss {loss.item():.4f}  {time.time() - start:.1f}s", flush=True)

    model.eval()
    train_acc, test_acc = accuracy(model, xtr, ytr), accuracy(model, xte, yte)
    print(f"train accuracy {train_acc:.4f}  test accuracy {test_acc:.4f}")

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
        "input": "x / 8 - 1 in [-1, 1], shape (N, 1, 8, 8); digits TRAIN split only",
        "torch_version": torch.__version__,
        "command": " ".join(["python scripts/train_digits_classifier.py", *sys.argv[1:]]),
    }
    atomic_write(args.out_dir / META_NAME, lambda p: p.write_text(json.dumps(meta, indent=2) + "\n"))
    print(f"wrote {args.out_dir / WEIGHTS_NAME}")


if __name__ == "__main__":
    main()
