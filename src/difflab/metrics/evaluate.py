"""One call that computes every applicable sample-quality metric."""

from difflab.metrics._inputs import ArrayLike, as_pair
from difflab.metrics.digits_classifier import classifier_fd
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
) -> dict[str, float]:
    """Compare generated samples with a held-out reference set.

    Always: ``pca_fd`` (PCA fitted on ``train`` when given, else on the
    reference), ``mmd_rbf`` (median-heuristic bandwidth) and
    ``sliced_wasserstein`` (sliced W1). For images ``(N, C, H, W)``:
    ``spectrum_error``. For ``dataset == "digits"``: ``classifier_fd``. With
    ``train``: the :func:`memorisation` keys prefixed ``memorisation_``, with
    the reference as the held-out baseline.

    Args:
        samples: generated samples ``(N, *shape)`` in normalised space.
        reference: held-out data ``(M, *shape)``.
        train: training data ``(K, *shape)``, optional.
        dataset: dataset name; enables dataset-specific metrics.
        mixture: true ``weights``/``means``/``covs`` of a Gaussian mixture: adds :func:`mixture_fit`.

    Returns:
        Metric name -> Python float (JSON-safe).
    """
    x, y = as_pair(samples, reference, min_n=2)
    tr = None if train is None else as_pair(train, y, ("train", "reference"), min_n=2)[0]
    out: dict[str, float] = {
        "pca_fd": pca_fd(x, y, fit_on=tr),
        "mmd_rbf": mmd_rbf(x, y),
        "sliced_wasserstein": sliced_wasserstein(x, y),
    }
    if x.ndim == 4:
        out["spectrum_error"] = spectrum_error(x, y)
    if dataset == "digits":
        out["classifier_fd"] = classifier_fd(x, y)
    if mixture is not None:
        out.update(mixture_fit(x, mixture["weights"], mixture["means"], mixture["covs"]))
    if tr is not None:
        out.update({f"memorisation_{k}": v for k, v in memorisation(x, tr, y).items()})
    return {k: float(v) for k, v in out.items()}
