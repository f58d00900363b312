"""One call that computes every applicable sample-quality metric, each independently of the others."""

import math
import warnings
from collections.abc import Callable

from difflab.errors import DifflabError
from difflab.metrics._inputs import ArrayLike, as_pair
from difflab.metrics.classifier_fd import classifier_fd, classifier_for
from difflab.metrics.frechet import pca_fd
from difflab.metrics.kernels import mmd_rbf
from difflab.metrics.memorisation import memorisation
from difflab.metrics.mixture import mixture_fit
from difflab.metrics.sliced import sliced_wasserstein
from difflab.metrics.spectrum import spectrum_error


def evaluate(
    samples: ArrayLike,
    reference: ArrayLike,
    *,
    train: ArrayLike | None = None,
    dataset: str | None = None,
    mixture: dict | None = None,
    refused: dict[str, str] | None = None,
) -> dict[str, float]:
    """Compare generated samples with a held-out reference set.

    Always: ``pca_fd`` (PCA fitted on ``train`` when given, else on the
    reference), ``mmd_rbf`` (median-heuristic bandwidth) and
    ``sliced_wasserstein`` (sliced W1). For images ``(N, C, H, W)``:
    ``spectrum_error``. For images of a shape a shipped classifier reads (``(1, 8, 8)`` digits,
    ``(1, 28, 28)`` MNIST-like; :func:`~difflab.metrics.classifier_fd.classifier_for`): ``classifier_fd``. With
    ``train``: the :func:`memorisation` keys prefixed ``memorisation_``, with
    the reference as the held-out baseline.

    Args:
        samples: generated samples ``(N, *shape)`` in normalised space.
        reference: held-out data ``(M, *shape)``.
        train: training data ``(K, *shape)``, optional.
        dataset: dataset name; kept for callers, the classifier is chosen by image shape.
        mixture: true ``weights``/``means``/``covs`` of a Gaussian mixture: adds :func:`mixture_fit`.
        refused: if given, filled with ``metric -> reason`` for each metric that refused these
            inputs (e.g. memorisation when the test set duplicates the training set).

    Every metric is computed on its own: one that refuses its inputs (a
    :class:`~difflab.errors.DifflabError`) is NaN in the result, with a warning and its reason in
    ``refused``; the others are unaffected.

    Returns:
        Metric name -> Python float (JSON-safe except a refused metric's NaN).
    """
    x, y = as_pair(samples, reference, min_n=2)
    tr = None if train is None else as_pair(train, y, ("train", "reference"), min_n=2)[0]
    reasons: dict[str, str] = {}
    out: dict[str, float] = {}

    def add(names: list[str], compute: Callable[[], dict[str, float]]) -> None:
        try:
            out.update(compute())
        except DifflabError as err:
            for name in names:
                out[name] = math.nan
                reasons[name] = str(err)
            warnings.warn(f"metric {', '.join(names)} refused: {err}", stacklevel=3)

    add(["pca_fd"], lambda: {"pca_fd": pca_fd(x, y, fit_on=tr)})
    add(["mmd_rbf"], lambda: {"mmd_rbf": mmd_rbf(x, y)})
    add(["sliced_wasserstein"], lambda: {"sliced_wasserstein": sliced_wasserstein(x, y)})
    if x.ndim == 4:
        add(["spectrum_error"], lambda: {"spectrum_error": spectrum_error(x, y)})
    if classifier_for(x.shape[1:]) is not None:
        add(["classifier_fd"], lambda: {"classifier_fd": classifier_fd(x, y)})
    if mixture is not None:
        add(
            ["mode_weight_tv", "mode_mean_error", "mode_cov_error"],
            lambda: mixture_fit(x, mixture["weights"], mixture["means"], mixture["covs"]),
        )
    if tr is not None:
        keys = ["nn_dist_median", "nn_dist_min", "baseline_median", "baseline_p01", "ratio"]
        keys = [f"memorisation_{k}" for k in [*keys, "frac_closer_than_baseline_p01"]]
        add(keys, lambda: {f"memorisation_{k}": v for k, v in memorisation(x, tr, y).items()})
    if refused is not None:
        refused.update(reasons)
    return {k: float(v) for k, v in out.items()}
