"""Shared pieces of the conditional commands (inpaint, upsample, extend): images, masks, outputs."""

from pathlib import Path

from difflab.cli.common import (
    add_device_argument,
    add_sampler_arguments,
    add_seed_argument,
    non_negative_int,
    positive_int,
    run_output,
)
from difflab.errors import DifflabError

SUFFIXES = (".npy", ".png")


def add_common_arguments(p) -> None:
    """RUN, --out and the sampling flags every conditional command takes."""
    p.add_argument("run", help="run directory or checkpoint folder")
    p.add_argument(
        "--out",
        default=None,
        help="output .npy (data range, the input's shape) or .png (a grid); default: RUN/<command>.npy",
    )
    p.add_argument("--steps", type=positive_int, default=None, help="number of steps (default: the run's sample.steps)")
    add_sampler_arguments(p)
    p.add_argument("--resample", type=non_negative_int, default=0, help="RePaint harmonisation rounds per step")
    add_seed_argument(p)
    add_device_argument(p)


def output_path(args, command: str) -> Path:
    """``--out``, or ``RUN/<command>.npy`` when it is not given (like every command that reads a run)."""
    return check_suffix(args.out if args.out else str(run_output(args.run, f"{command}.npy")), "--out")


def check_suffix(path: str, flag: str) -> Path:
    path = Path(path)
    if path.suffix not in SUFFIXES:
        raise DifflabError(f"{flag} must be a .npy or .png file, got {path.name}")
    return path


def read_array(path: str, flag: str):
    """A float64 numpy array from .npy (never unpickled) or .png (grey or RGB, 0..255 -> 0..1, (C, H, W))."""
    import numpy as np

    path = check_suffix(path, flag)
    if not path.is_file():
        raise DifflabError(f"{flag} {path} does not exist")
    if path.suffix == ".npy":
        try:
            arr = np.load(path, allow_pickle=False)
        except (ValueError, OSError) as exc:
            raise DifflabError(f"{flag} {path} is not a readable numeric .npy file ({exc})") from None
    else:
        from PIL import Image

        with Image.open(path) as im:
            arr = np.asarray(im.convert("L") if im.mode in ("L", "1", "P", "I", "I;16", "LA") else im.convert("RGB"))
        arr = arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1)
        arr = arr / 255.0
    if not np.issubdtype(arr.dtype, np.number) or not np.isfinite(arr).all():
        raise DifflabError(f"{flag} {path} must hold finite numbers")
    return arr.astype(np.float64), path.suffix == ".png"


def load_images(loaded, path: str, flag: str, shape: tuple[int, ...]):
    """``(x (N, *shape) normalised float32 tensor, single)`` from a file in the data's own range.

    A .png's 0..1 grey levels are mapped onto the data's value range. ``shape`` may leave the
    width free (``None``) for ``extend`` and the height/width for ``upsample``.

    Raises:
        DifflabError: for a wrong shape or values outside the data range.
    """
    import torch

    arr, is_png = read_array(path, flag)
    vr = loaded.normaliser.value_range
    if is_png:
        if vr is None:
            raise DifflabError(f"{flag}: this run's data has no value range, so a .png cannot be mapped; give .npy")
        arr = vr[0] + arr * (vr[1] - vr[0])
    single = arr.ndim == len(shape)
    if single:
        arr = arr[None]
    if arr.ndim != len(shape) + 1 or any(s is not None and a != s for a, s in zip(arr.shape[1:], shape)):
        want = ", ".join("*" if s is None else str(s) for s in shape)
        raise DifflabError(f"{flag} must be shaped (N, {want}) or ({want}), got {tuple(arr.shape[int(single) :])}")
    if vr is not None and (arr.min() < vr[0] - 1e-6 or arr.max() > vr[1] + 1e-6):
        raise DifflabError(
            f"{flag} values span [{arr.min():.4g}, {arr.max():.4g}], outside the data range [{vr[0]:g}, {vr[1]:g}]; "
            "give the input in the data's own units"
        )
    return loaded.normaliser.encode(torch.as_tensor(arr, dtype=torch.float32)), single


def sample_settings(args, loaded) -> dict:
    """``generate`` keyword arguments from the sampling flags (the run's sample section as defaults)."""
    from difflab.cli.common import sampler_options

    if args.resample < 0:
        raise DifflabError(f"--resample must be >= 0, got {args.resample}")
    sampler = args.sampler or loaded.cfg.sample.sampler
    return {
        "steps": args.steps or loaded.cfg.sample.steps,
        "sampler": sampler,
        "grid": args.grid or loaded.cfg.sample.grid,
        "seed": args.seed,
        "sampler_options": sampler_options(args, [sampler], loaded.cfg.sample)[sampler],
    }


def write_output(loaded, samples, out: Path, single: bool) -> None:
    """Write normalised ``samples (N, *shape)`` as .npy in the data's range (input's shape) or a .png grid."""
    import numpy as np

    from difflab.io import atomic_open
    from difflab.report import save_samples_picture

    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix == ".npy":
        data = loaded.normaliser.decode(samples).numpy().astype(np.float32)
        with atomic_open(out, "wb") as f:
            np.save(f, data[0] if single else data)
    elif save_samples_picture(samples, out, n=samples.shape[0]) is None:
        raise DifflabError("a .png needs image data; write .npy instead")
