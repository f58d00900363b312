"""Cost of each basis transform (forward + inverse) relative to one UNet forward pass.

Batch 64×3×32×32 (CIFAR-sized); UNet(in_channels=3, base_channels=64,
channel_mults=(1, 2, 2), num_res_blocks=2). Prints a markdown table.
The PCA matrix is timed with placeholder values (cost does not depend on them).

Usage: python benchmarks/bench_bases.py [--device cpu|cuda] [--batch 64] [--repeats 5]
"""

import argparse
import statistics
import time

import torch

from difflab.process.bases.registry import build_basis
from difflab.utils.device import sync_device


def timed(fn, repeats: int, device: torch.device) -> float:
    """Median wall time of ``fn()`` in milliseconds, after one warm-up call."""
    fn()
    times = []
    for _ in range(repeats):
        sync_device(device)
        start = time.perf_counter()
        fn()
        sync_device(device)
        times.append(1e3 * (time.perf_counter() - start))
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    device = torch.device(args.device)
    shape = (3, 32, 32)
    x = torch.randn(args.batch, *shape, device=device)
    rows = []
    with torch.no_grad():
        try:
            from difflab.nn import UNet

            net = UNet(in_channels=3, base_channels=64, channel_mults=(1, 2, 2), num_res_blocks=2).to(device).eval()
            t = torch.full((args.batch,), 0.5, device=device)
            unet_ms = timed(lambda: net(x, t), args.repeats, device)
        except ImportError:  # difflab.nn not available: report absolute times only
            unet_ms = float("nan")
        for name, kw in [
            ("pixel", {}),
            ("pca", {}),
            ("dct", {}),
            ("fourier", {}),
            ("haar", {"levels": 1}),
            ("haar", {"levels": 3}),
        ]:
            basis = build_basis(name, shape, **kw)
            if name == "pca":
                dim = basis.dim
                basis.load_state_dict(
                    {
                        "components": torch.eye(dim, dtype=torch.float64),
                        "variances": torch.ones(dim, dtype=torch.float64),
                    }
                )
            basis = basis.to(device)
            ms = timed(lambda basis=basis: basis.from_components(basis.to_components(x)), args.repeats, device)
            label = f"{name} (levels={kw['levels']})" if kw else name
            rows.append((label, ms))
    print(
        f"device: {device}, batch {args.batch}×3×32×32, threads {torch.get_num_threads()}, "
        f"UNet forward {unet_ms:.1f} ms\n"
    )
    print("| basis | forward+inverse ms | fraction of UNet forward |")
    print("|---|---:|---:|")
    for label, ms in rows:
        print(f"| {label} | {ms:.2f} | {ms / unet_ms:.4f} |")


if __name__ == "__main__":
    main()
