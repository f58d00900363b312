"""How much an intervention changed the final samples: detail versus composition.

Prasad et al. (arXiv 2312.14965) separate a *composition* phase (early,
high-noise steps decide what is drawn) from a *detail* phase (late steps
denoise pixels). Per ablated run, against the unablated run with the same
seeds, this module measures pixel-level change (MSE, PSNR, SSIM), for digits
the fraction of samples whose predicted digit changes (composition), and the
shift of the Fréchet distance to held-out data (classifier-FD on digits,
PCA-FD elsewhere).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from skimage.metrics import structural_similarity
from torch import Tensor

from difflab.errors import DifflabError
from difflab.metrics import classifier_fd, load_digits_classifier, pca_fd

DATA_RANGE = 2.0  # samples live in [-1, 1]
FDKind = Literal["classifier", "pca"]


def ssim(a: Tensor, b: Tensor) -> float:
    """Mean SSIM over samples of images ``(N, C, H, W)`` (data range 2; window shrunk for tiny images)."""
    x, y = a.clamp(-1, 1).numpy().astype(np.float64), b.clamp(-1, 1).numpy().astype(np.float64)
    side = min(x.shape[-2:])
    win = min(7, side if side % 2 else side - 1)
    vals = [structural_similarity(u, v, data_range=DATA_RANGE, win_size=win, channel_axis=0) for u, v in zip(x, y)]
    return float(np.mean(vals))


def fd_between(a: Tensor, b: Tensor, dataset: str) -> float:
    """Fréchet distance between two image sets: classifier-FD on digits, PCA-FD elsewhere."""
    fn = classifier_fd if dataset == "digits" else pca_fd
    return float(fn(a.float().cpu(), b.float().cpu()))


class ImpactScorer:
    """Scores ablated samples against a fixed unablated reference.

    Args:
        reference: unablated final samples ``(N, C, H, W)`` (same seeds as every ablated run).
        heldout: held-out data ``(M, C, H, W)`` for the FD.
        dataset: dataset name; ``digits`` adds label change and uses classifier-FD.
    """

    def __init__(self, reference: Tensor, heldout: Tensor, dataset: str) -> None:
        if reference.ndim != 4:
            raise DifflabError(f"impact metrics need images (N, C, H, W), got shape {tuple(reference.shape)}")
        self.reference, self.heldout, self.dataset = reference.float().cpu(), heldout.float().cpu(), dataset
        self.digits = dataset == "digits"
        self.fd_kind: FDKind = "classifier" if self.digits else "pca"
        self.labels = load_digits_classifier().predict(self.reference) if self.digits else None
        self.fd_reference = self.fd(self.reference)

    def fd(self, samples: Tensor) -> float:
        """FD of ``samples`` to the held-out data (classifier- or PCA-FD)."""
        return fd_between(samples, self.heldout, self.dataset)

    def score(self, samples: Tensor) -> dict[str, float]:
        """Metrics of ablated ``samples`` ``(N, C, H, W)`` against the reference.

        Returns:
            ``mse``, ``psnr`` (dB, inf if identical), ``ssim``, ``pixel_change``
            (= 1 - SSIM), ``fd``, ``fd_shift`` (relative: fd / fd_reference - 1)
            and for digits ``label_change`` (fraction of changed predicted digits).
        """
        s = samples.float().cpu()
        if s.shape != self.reference.shape:
            raise DifflabError(f"samples {tuple(s.shape)} do not match the reference {tuple(self.reference.shape)}")
        mse = float(((s - self.reference) ** 2).mean())
        psnr = float("inf") if mse == 0 else float(10 * np.log10(DATA_RANGE**2 / mse))
        sim = ssim(s, self.reference)
        fd = self.fd(s)
        out = {
            "mse": mse,
            "psnr": psnr,
            "ssim": sim,
            "pixel_change": 1.0 - sim,
            "fd": fd,
            "fd_shift": fd / self.fd_reference - 1.0,
        }
        if self.labels is not None:
            out["label_change"] = float((load_digits_classifier().predict(s) != self.labels).float().mean())
        return out
