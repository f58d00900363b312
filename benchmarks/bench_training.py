"""Training and sampling throughput of difflab's UNet against diffusers.UNet2DModel
of matched parameter count, measured in the same process on the same batches.

For each dataset shape (digits 1x8x8, patches 1x16x16, mnist5k 1x28x28, rgb32 3x32x32 and the
larger cifar10 3x32x32 network) it times full training steps (forward, v-MSE loss, backward, AdamW
step) and sampling forward passes (no grad), interleaving the two models so machine load affects
both alike, and records peak memory (CUDA: max allocated; CPU: peak RSS growth).

It also reports the fraction of the machine's matmul peak a training step reaches: the step's
FLOPs are counted with ``torch.utils.flop_counter.FlopCounterMode`` (matmuls and convolutions,
forward + backward; the optimizer's elementwise work is not counted), and the peak is the best of
a few large square ``torch.matmul`` calls in the same process, with the same threads.

``--clock process`` times with the process's CPU time instead of the wall clock: on a CPU shared
with other jobs the wall clock mostly measures time slicing, while CPU time (one torch thread) stays
close to the work done. ``--no-channels-last`` runs difflab's UNet in NCHW, as before issue 14;
``--no-folded-norm`` turns off the folded no-grad GroupNorm path (``difflab.nn.norm``).

Usage: python benchmarks/bench_training.py [--device cpu|cuda] [--precision fp32|bf16]
       [--shapes digits,patches,mnist5k,rgb32] [--batch 128] [--repeats 20] [--threads N]
       [--clock wall|process] [--no-channels-last] [--no-folded-norm] [--json out.json]
"""

import argparse
import json
import platform
import resource
import statistics
import time

import torch
from torch.utils.flop_counter import FlopCounterMode

from difflab.nn import DiffusersAdapter, UNet, count_parameters
from difflab.nn.norm import GroupNorm
from difflab.utils.device import autocast_for, sync_device

SHAPES = {
    "digits": (1, 8, 8),
    "patches": (1, 16, 16),
    "mnist5k": (1, 28, 28),
    "rgb32": (3, 32, 32),
    "cifar10": (3, 32, 32),
}
# The networks of configs/digits.yaml-like, patches.yaml, mnist5k.yaml and patches-rgb.yaml (rgb32:
# three levels, attention at 16x16); cifar10 is a wider 3x32x32 network for the GPU.
OURS = {
    "digits": dict(base_channels=32, channel_mults=(1, 2), num_res_blocks=1, attention_levels=(1,)),
    "patches": dict(base_channels=32, channel_mults=(1, 2, 2), num_res_blocks=1, attention_levels=(2,)),
    "mnist5k": dict(base_channels=16, channel_mults=(1, 2, 2), num_res_blocks=1, attention_levels=(2,)),
    "rgb32": dict(base_channels=32, channel_mults=(1, 2, 2), num_res_blocks=1, attention_levels=(1,)),
    "cifar10": dict(base_channels=64, channel_mults=(1, 2, 2), num_res_blocks=2, attention_levels=(1,)),
}


def diffusers_unet(shape, ours_kwargs):
    """A UNet2DModel with the same widths, depth and attention placement as ours."""
    from diffusers import UNet2DModel

    widths = tuple(ours_kwargs["base_channels"] * m for m in ours_kwargs["channel_mults"])
    att = set(ours_kwargs["attention_levels"])
    down = tuple("AttnDownBlock2D" if i in att else "DownBlock2D" for i in range(len(widths)))
    up = tuple("AttnUpBlock2D" if i in att else "UpBlock2D" for i in reversed(range(len(widths))))
    return UNet2DModel(
        sample_size=shape[1],
        in_channels=shape[0],
        out_channels=shape[0],
        block_out_channels=widths,
        layers_per_block=ours_kwargs["num_res_blocks"],
        down_block_types=down,
        up_block_types=up,
        norm_num_groups=8,
        attention_head_dim=8,
    )


def matmul_peak_flops(device, n: int = 2048, repeats: int = 5, clock=time.perf_counter) -> float:
    """Best FLOP/s of an ``n x n`` fp32 ``torch.matmul`` (2 n³ FLOPs), after one warm-up call."""
    a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
    torch.matmul(a, b)
    best = float("inf")
    for _ in range(repeats):
        sync_device(device)
        t0 = clock()
        torch.matmul(a, b)
        sync_device(device)
        best = min(best, clock() - t0)
    return 2 * n**3 / best


def train_step_flops(model, shape, batch: int, device) -> int:
    """FLOPs of one forward + backward of the v-MSE loss at this batch (FlopCounterMode's count)."""
    x, t = torch.randn(batch, *shape, device=device), torch.rand(batch, device=device)
    with FlopCounterMode(display=False) as counter:
        (model(x, t) - x).pow(2).mean().backward()
    model.zero_grad(set_to_none=True)
    return counter.get_total_flops()


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bench(
    models: dict, shape, batch: int, repeats: int, device, precision: str = "fp32", clock=time.perf_counter
) -> dict:
    x = torch.randn(batch, *shape, device=device)
    t = torch.rand(batch, device=device)
    target = torch.randn_like(x)
    opts = {k: torch.optim.AdamW(m.parameters(), lr=1e-4) for k, m in models.items()}
    train_times = {k: [] for k in models}
    sample_times = {k: [] for k in models}
    memory = {}

    for r in range(repeats + 2):  # two warm-up rounds
        for name, model in models.items():
            if device.type == "cuda":
                torch.cuda.reset_peak_memory_stats()
            rss0 = peak_rss_mb()
            sync_device(device)
            t0 = clock()
            with autocast_for(device, precision):
                loss = (model(x, t).float() - target).pow(2).mean()
            loss.backward()
            opts[name].step()
            opts[name].zero_grad(set_to_none=True)
            sync_device(device)
            t1 = clock()
            with torch.no_grad(), autocast_for(device, precision):
                model(x, t)
            sync_device(device)
            t2 = clock()
            if r >= 2:
                train_times[name].append(t1 - t0)
                sample_times[name].append(t2 - t1)
            mem = torch.cuda.max_memory_allocated() / 2**20 if device.type == "cuda" else peak_rss_mb() - rss0
            memory[name] = max(memory.get(name, 0.0), mem)
    out = {}
    for name in models:
        tr, sa = statistics.median(train_times[name]), statistics.median(sample_times[name])
        out[name] = {
            "params": count_parameters(models[name]),
            "train_images_per_s": batch / tr,
            "sample_images_per_s": batch / sa,
            "train_ms": 1e3 * tr,
            "forward_ms": 1e3 * sa,
            "peak_memory_mb": memory[name],
        }
    out["ratio_train"] = out["difflab"]["train_images_per_s"] / out["diffusers"]["train_images_per_s"]
    out["ratio_sample"] = out["difflab"]["sample_images_per_s"] / out["diffusers"]["sample_images_per_s"]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument(
        "--precision",
        default="fp32",
        choices=["fp32", "bf16"],
        help="bf16 = autocast on CUDA, as training does (the CPU runs fp32)",
    )
    parser.add_argument("--shapes", default="digits,patches,mnist5k,rgb32", help=f"comma list of {', '.join(SHAPES)}")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's own choice)")
    parser.add_argument(
        "--clock", default="wall", choices=["wall", "process"], help="wall clock or process CPU time (shared CPUs)"
    )
    parser.add_argument("--no-channels-last", action="store_true", help="difflab's UNet in NCHW on the CPU")
    parser.add_argument(
        "--no-folded-norm", action="store_true", help="native GroupNorm kernel also when sampling on the CPU"
    )
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    UNet.cpu_channels_last = not args.no_channels_last
    GroupNorm.fold_cpu_nhwc = not args.no_folded_norm
    clock = time.process_time if args.clock == "process" else time.perf_counter
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    torch.manual_seed(0)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or platform.machine()
    results = {
        "device": str(device),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "machine": name,
        "batch": args.batch,
        "precision": args.precision,
        "clock": args.clock,
        "cpu_channels_last": UNet.cpu_channels_last,
        "folded_norm": GroupNorm.fold_cpu_nhwc,
    }
    peak = matmul_peak_flops(device, clock=clock)
    results["matmul_peak_gflops"] = peak / 1e9
    print(
        f"device {device} ({name}), {torch.get_num_threads()} threads, batch {args.batch}, {args.precision}, "
        f"{args.clock} clock, difflab channels-last on CPU: {UNet.cpu_channels_last}, "
        f"folded no-grad GroupNorm: {GroupNorm.fold_cpu_nhwc}"
    )
    print(f"fp32 matmul peak (2048x2048, best of 5): {peak / 1e9:.1f} GFLOP/s\n")
    print(
        "| data | model | params | train img/s | sample img/s | peak MB | train ratio | sample ratio "
        "| step GFLOP | % of matmul peak |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for data in args.shapes.split(","):
        shape = SHAPES[data]
        ours = UNet(in_channels=shape[0], **OURS[data]).to(device)
        theirs = DiffusersAdapter(diffusers_unet(shape, OURS[data])).to(device)
        models = {"difflab": ours, "diffusers": theirs}
        r = bench(models, shape, args.batch, args.repeats, device, args.precision, clock)
        results[data] = r
        for name in ("difflab", "diffusers"):
            m = r[name]
            m["step_gflop"] = train_step_flops(models[name], shape, args.batch, device) / 1e9
            # achieved FLOP/s of the whole timed step (AdamW included) against the matmul peak
            m["fraction_of_peak"] = m["step_gflop"] * 1e9 / (m["train_ms"] / 1e3) / peak
            ratio = (f"{r['ratio_train']:.2f}", f"{r['ratio_sample']:.2f}") if name == "difflab" else ("", "")
            print(
                f"| {data} | {name} | {m['params']:,} | {m['train_images_per_s']:.0f} | "
                f"{m['sample_images_per_s']:.0f} | {m['peak_memory_mb']:.0f} | {ratio[0]} | {ratio[1]} | "
                f"{m['step_gflop']:.2f} | {100 * m['fraction_of_peak']:.1f} |",
                flush=True,
            )
    end_peak = matmul_peak_flops(device, clock=clock)  # again after the run: load may have changed
    results["matmul_peak_gflops_end"] = end_peak / 1e9
    print(f"\nfp32 matmul peak again at the end: {end_peak / 1e9:.1f} GFLOP/s")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
