"""Where a cell's samples put their power: log ratio of radially averaged power per band to the training data.

Second-order measures (PCA-FD, spectrum error) only see this, so it says *why* a cell scores as it does:
too little fine-scale power (a blurry model), too little DC power, or the test split's shift. The
reference is ``study.train_reference`` (2000 fixed held-out training examples); the test split is
printed the same way first. Sample files come from ``rescore.py --save-samples`` (CELL/samples_*.npy).

    python experiments/gud_design_space/bands.py --dataset patches 'runs/grid/patches/pca-*/samples_*.npy'
"""

import argparse
import glob
from pathlib import Path

import numpy as np
from study import train_reference  # this folder is on sys.path when the script runs

from difflab.data import load_dataset
from difflab.metrics.spectrum import radial_power_spectrum


def log_ratio(x: np.ndarray, ref_power: np.ndarray) -> np.ndarray:
    """log(power of x / reference power), per radial band (0 = DC)."""
    return np.log(radial_power_spectrum(x) / ref_power)


def fmt(v: np.ndarray) -> str:
    return " ".join(f"{x:+.2f}" for x in v)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("samples", nargs="+", help="globs of .npy sample files (N, C, H, W)")
    ap.add_argument("--dataset", default="patches")
    args = ap.parse_args()
    files = sorted({f for pattern in args.samples for f in glob.glob(pattern)})
    if not files:
        raise SystemExit(f"bands: no file matches {' '.join(args.samples)}")
    ds = load_dataset(args.dataset)
    ref, _ = train_reference(ds.train)
    ref_power = radial_power_spectrum(ref.numpy())
    print(f"{'sample set':44s} log(power / train-ref power) per band 0 (DC) … {len(ref_power) - 1}   variance")
    print(f"{'test split':44s} {fmt(log_ratio(ds.test.numpy(), ref_power))}   {float(ds.test.var()):.3f}")
    for f in files:
        x = np.load(f)
        name = f"{Path(f).parent.name}/{Path(f).stem.removeprefix('samples_')}"
        print(f"{name:44s} {fmt(log_ratio(x, ref_power))}   {float(x.var()):.3f}")
    print(f"{'train reference':44s} {fmt(np.zeros_like(ref_power))}   {float(ref.var()):.3f}")


if __name__ == "__main__":
    main()
