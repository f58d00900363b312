"""How the shipped MNIST classifier's FD responds to known defects, against its own noise (mnist5k).

For each seed: n real training images (a seeded random subset) against the 1,000-image test split
(the floor), two disjoint real training subsets against each other (the metric's own noise), and
the same n images after a known defect: half the classes missing, a 3x3 box blur, Gaussian pixel
noise (σ = 0.2 and 0.5 in [-1, 1] units), and uniform noise images. Prints a markdown table of
mean ± std over the seeds.

    OMP_NUM_THREADS=1 python experiments/mnist_classifier/fd_sanity.py --n 500 --seeds 0,1,2
"""

import argparse

import numpy as np
import torch
import torch.nn.functional as F

from difflab.data import load_dataset
from difflab.metrics import classifier_fd


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=500)
    parser.add_argument("--seeds", default="0,1,2")
    args = parser.parse_args()
    torch.set_num_threads(1)
    data = load_dataset("mnist5k")
    rows: dict[str, list[float]] = {}
    for seed in map(int, args.seeds.split(",")):
        gen = torch.Generator().manual_seed(seed)
        perm = torch.randperm(len(data.train), generator=gen)
        x, other = data.train[perm[: args.n]], data.train[perm[args.n : 2 * args.n]]
        low = data.train[data.train_labels < 5]
        half = low[torch.randperm(len(low), generator=gen)[: args.n]]
        cases = {
            "real train vs test (floor)": x,
            "half the classes (0-4 only)": half,
            "3x3 box blur": F.avg_pool2d(F.pad(x, (1, 1, 1, 1), value=-1.0), 3, 1),
            "Gaussian pixel noise σ=0.2": (x + 0.2 * torch.randn(x.shape, generator=gen)).clamp(-1, 1),
            "Gaussian pixel noise σ=0.5": (x + 0.5 * torch.randn(x.shape, generator=gen)).clamp(-1, 1),
            "uniform noise images": torch.rand(x.shape, generator=gen) * 2 - 1,
        }
        for name, images in cases.items():
            rows.setdefault(name, []).append(classifier_fd(images, data.test))
        rows.setdefault("two real train sets (metric noise)", []).append(classifier_fd(x, other))
    print(f"mnist5k, classifier-FD (shipped MNIST classifier), n = {args.n} vs 1,000 test images, seeds {args.seeds}")
    print("| set | classifier-FD (mean ± std) | × floor |\n|---|---:|---:|")
    floor = np.mean(rows["real train vs test (floor)"])
    for name, vals in rows.items():
        print(f"| {name} | {np.mean(vals):.1f} ± {np.std(vals):.1f} | {np.mean(vals) / floor:.1f} |")


if __name__ == "__main__":
    main()
