"""Inception FID and KID (optional extra ``fid``), offline: a given weights file, cached reference features.

The features are the 2048-d pool3 activations of torch-fidelity's TensorFlow-compatible InceptionV3
(the network of the original FID code, with TF1's bilinear resize to 299x299), so the numbers are
comparable with torch-fidelity's and with papers that use the same network, at the same n and on
the same reference set: FID is biased upward at small n (Chong & Forsyth, 2020), so it is always
reported with its n. Images are decoded to 8-bit RGB first (grey images repeat their channel).

Nothing is downloaded at run time: the weights come from an explicit path, ``$DIFFLAB_INCEPTION_WEIGHTS``
or torch-fidelity's own cache file in the torch hub folder; otherwise a one-line error says how to
provide them. The Fréchet distance is :func:`~difflab.metrics.frechet.frechet_distance` and KID is
:func:`~difflab.metrics.kernels.kid`; only the feature network comes from torch-fidelity.

Reference features are cached per dataset split as safetensors (never a pickle), keyed by a hash
of the reference images and the extractor's name, so a second evaluation skips the reference pass.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save

from difflab.errors import DifflabError
from difflab.io import atomic_write_bytes
from difflab.metrics._inputs import ArrayLike, as_float64
from difflab.metrics.frechet import frechet_distance, gaussian_moments
from difflab.metrics.kernels import kid

FID_EXTRA = "pip install 'difflab[fid]'"
WEIGHTS_FILE = "weights-inception-2015-12-05-6726825d.pth"  # torch-fidelity's InceptionV3 release asset
WEIGHTS_ENV = "DIFFLAB_INCEPTION_WEIGHTS"
CACHE_ENV = "DIFFLAB_CACHE_DIR"
INCEPTION_NAME = "inception-v3-compat-pool3"


@dataclass(frozen=True)
class FeatureExtractor:
    """A feature network for FID/KID: 8-bit RGB images ``(N, 3, H, W)`` uint8 → features ``(N, D)``.

    Attributes:
        name: identifies the features in cache keys and printouts (e.g. ``inception-v3-compat-pool3``).
        fn: the network, called on batches of at most ``batch_size`` images.
        batch_size: images per call.
    """

    name: str
    fn: Callable[[torch.Tensor], torch.Tensor]
    batch_size: int = 100


def find_inception_weights(path: str | os.PathLike | None = None) -> Path:
    """The InceptionV3 weights file: ``path``, else ``$DIFFLAB_INCEPTION_WEIGHTS``, else torch-fidelity's cache.

    Raises:
        DifflabError: naming where the file was looked for and how to provide it (nothing is downloaded).
    """
    if path is None:
        path = os.environ.get(WEIGHTS_ENV) or None
    if path is not None:
        found = Path(path).expanduser()
        if not found.is_file():
            raise DifflabError(f"Inception weights {found} do not exist; pass the path of {WEIGHTS_FILE}")
        return found
    cached = Path(torch.hub.get_dir()) / "checkpoints" / WEIGHTS_FILE
    if cached.is_file():
        return cached
    raise DifflabError(
        f"fid/kid need the InceptionV3 weights and nothing is downloaded at run time: copy torch-fidelity's "
        f"{WEIGHTS_FILE} to this machine and pass --inception-weights PATH (or set {WEIGHTS_ENV}, "
        f"or put it at {cached})"
    )


def inception_extractor(
    weights: str | os.PathLike | None = None, device: str | torch.device = "cpu"
) -> FeatureExtractor:
    """torch-fidelity's InceptionV3 pool3 features from a local weights file (see :func:`find_inception_weights`).

    Raises:
        DifflabError: when torch-fidelity is not installed, the weights are not found, or the file
            holds anything but tensors.
    """
    try:
        from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3
    except ImportError:
        raise DifflabError(f"fid/kid need torch-fidelity (and torchvision): {FID_EXTRA}") from None
    path = find_inception_weights(weights)
    try:
        # torch-fidelity reads the file with a full unpickler; only a file of plain tensors, which the
        # restricted loader accepts, is handed to it.
        torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - any failure means: not a plain tensor file
        raise DifflabError(
            f"{path} is not a plain InceptionV3 state dict ({type(err).__name__}); refusing it"
        ) from None
    model = FeatureExtractorInceptionV3("inception-v3-compat", ["2048"], feature_extractor_weights_path=str(path))
    model = model.to(device)

    def fn(x: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return model(x.to(device))[0].cpu()

    return FeatureExtractor(INCEPTION_NAME, fn)


def to_uint8_rgb(images: ArrayLike) -> torch.Tensor:
    """Images ``(N, C, H, W)`` in [0, 1] with C = 1 or 3 → ``(N, 3, H, W)`` uint8 (clipped, rounded)."""
    x = as_float64(images, "images")
    if x.ndim != 4 or x.shape[1] not in (1, 3):
        raise DifflabError(f"fid/kid need images shaped (N, 1 or 3, H, W), got {x.shape}")
    x = np.rint(np.clip(x, 0.0, 1.0) * 255).astype(np.uint8)
    t = torch.from_numpy(x)
    return t.expand(-1, 3, -1, -1).contiguous() if t.shape[1] == 1 else t


def extract_features(images: ArrayLike, extractor: FeatureExtractor) -> np.ndarray:
    """Features ``(N, D)`` float64 of images ``(N, C, H, W)`` in [0, 1]."""
    x = to_uint8_rgb(images)
    parts = [extractor.fn(x[i : i + extractor.batch_size]) for i in range(0, len(x), extractor.batch_size)]
    feats = torch.cat(parts).to(torch.float64).numpy()
    if feats.ndim != 2 or len(feats) != len(x) or not np.all(np.isfinite(feats)):
        raise DifflabError(f"feature extractor {extractor.name} returned bad features, shape {feats.shape}")
    return feats


def default_cache_dir() -> Path:
    """``$DIFFLAB_CACHE_DIR/fid``, or ``~/.cache/difflab/fid``."""
    return Path(os.environ.get(CACHE_ENV, "~/.cache/difflab")).expanduser() / "fid"


def reference_cache_path(images: ArrayLike, extractor: FeatureExtractor, label: str, cache_dir: Path) -> Path:
    """Cache file of these reference images' features: ``<label>-<image hash>-<extractor>.safetensors``."""
    x = to_uint8_rgb(images)  # the hash is over what the extractor sees
    digest = hashlib.sha256(x.numpy().tobytes() + str(tuple(x.shape)).encode()).hexdigest()[:16]
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in label)
    return Path(cache_dir) / f"{safe}-{digest}-{extractor.name}.safetensors"


def reference_features(
    images: ArrayLike, extractor: FeatureExtractor, *, label: str = "reference", cache_dir: str | Path | None = None
) -> tuple[np.ndarray, bool]:
    """Features of a reference set, read from the cache when present, else computed and cached.

    Args:
        images: reference images ``(N, C, H, W)`` in [0, 1], e.g. a dataset's test split.
        extractor: the feature network.
        label: readable part of the cache name, e.g. ``mnist5k-test``.
        cache_dir: folder of the cache (default :func:`default_cache_dir`).

    Returns:
        ``(features (N, D) float64, True if read from the cache)``. An unreadable or mismatched cache
        file is recomputed and replaced.
    """
    path = reference_cache_path(images, extractor, label, Path(cache_dir) if cache_dir else default_cache_dir())
    n = len(images)
    if path.is_file():
        try:
            cached = load_file(str(path))["features"]
            if cached.ndim == 2 and len(cached) == n:
                return cached.to(torch.float64).numpy(), True
        except (SafetensorError, KeyError, OSError):
            pass  # corrupt or foreign file: recompute below
    feats = extract_features(images, extractor)
    path.parent.mkdir(parents=True, exist_ok=True)
    blob = save({"features": torch.from_numpy(feats.astype(np.float32))}, {"extractor": extractor.name, "n": str(n)})
    atomic_write_bytes(path, blob)
    return feats, False


def fid_kid(
    samples: ArrayLike,
    reference_feats: np.ndarray,
    extractor: FeatureExtractor,
    *,
    kid_subsets: int = 100,
    kid_subset_size: int = 1000,
    seed: int = 0,
) -> dict[str, float]:
    """FID and KID of samples against precomputed reference features.

    Args:
        samples: generated images ``(N, C, H, W)`` in [0, 1]; N >= 2.
        reference_feats: ``(M, D)`` from :func:`reference_features`.
        extractor: the same feature network that made ``reference_feats``.
        kid_subsets: KID subsets.
        kid_subset_size: KID subset size (capped at the smaller set).
        seed: seed of the KID subsets.

    Returns:
        ``{"fid", "kid", "kid_std"}``.
    """
    feats = extract_features(samples, extractor)
    if len(feats) < 2:
        raise DifflabError("fid/kid need at least 2 samples")
    fid = frechet_distance(*gaussian_moments(feats), *gaussian_moments(reference_feats))
    kid_mean, kid_std = kid(feats, reference_feats, subsets=kid_subsets, subset_size=kid_subset_size, seed=seed)
    return {"fid": fid, "kid": kid_mean, "kid_std": kid_std}
