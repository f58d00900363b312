"""Classifier-Fréchet distance: FID's recipe with a small shipped classifier in place of Inception.

The classifier is picked by image shape: ``(1, 8, 8)`` → the digits classifier, ``(1, 28, 28)`` →
the MNIST classifier. This table is the one place that maps shapes (and the datasets that have
them) to a feature extractor.
"""

from collections.abc import Callable
from dataclasses import dataclass

from difflab.errors import DifflabError
from difflab.metrics._inputs import ArrayLike, as_pair
from difflab.metrics.digits_classifier import load_digits_classifier
from difflab.metrics.feature_classifier import FeatureClassifier, asset_metadata
from difflab.metrics.frechet import fd_from_features
from difflab.metrics.mnist_classifier import load_mnist_classifier


@dataclass(frozen=True)
class ShippedClassifier:
    """One shipped feature extractor: the image shape it reads and the datasets it was made for."""

    name: str
    shape: tuple[int, int, int]
    load: Callable[[], FeatureClassifier]
    stem: str
    trained_on: str
    datasets: tuple[str, ...]  # datasets of this shape whose classes it was trained on
    off_domain: tuple[str, ...] = ()  # datasets of this shape it scores without knowing their classes

    def describe(self, dataset: str | None = None) -> str:
        """E.g. ``"mnist classifier (128-d, trained on mnist5k train, test acc 0.981)"``."""
        meta = asset_metadata(self.stem)
        text = (
            f"{self.name} classifier ({meta['architecture']['hidden']}-d, trained on {self.trained_on}, "
            f"test acc {meta['test_accuracy']:.3f})"
        )
        return f"{text}, off-domain for {dataset}" if dataset in self.off_domain else text


CLASSIFIERS: tuple[ShippedClassifier, ...] = (
    ShippedClassifier("digits", (1, 8, 8), load_digits_classifier, "digits_classifier", "digits train", ("digits",)),
    ShippedClassifier(
        "mnist",
        (1, 28, 28),
        load_mnist_classifier,
        "mnist_classifier",
        "mnist5k train",
        ("mnist5k", "mnist"),
        off_domain=("fashion-mnist",),
    ),
)


def classifier_for(shape: tuple[int, ...] | None = None, dataset: str | None = None) -> ShippedClassifier | None:
    """The shipped classifier for images of ``shape`` (or, without a shape, for a dataset name); None if none."""
    for spec in CLASSIFIERS:
        if shape is not None and tuple(shape) == spec.shape:
            return spec
        if shape is None and dataset in (*spec.datasets, *spec.off_domain):
            return spec
    return None


def classifier_fd(samples: ArrayLike, reference: ArrayLike) -> float:
    """Fréchet distance in the penultimate features of the shipped classifier for these images' shape.

    Args:
        samples: generated images ``(N, 1, 8, 8)`` (digits) or ``(N, 1, 28, 28)`` (MNIST-like), in
            normalised space [-1, 1].
        reference: held-out images of the same shape, e.g. the test split.

    Returns:
        The classifier-Fréchet distance (float).

    Raises:
        DifflabError: for a shape no shipped classifier reads.
    """
    x, y = as_pair(samples, reference, min_n=2)
    spec = classifier_for(x.shape[1:])
    if spec is None:
        shapes = ", ".join(str(c.shape) for c in CLASSIFIERS)
        raise DifflabError(f"no shipped classifier reads images shaped {x.shape[1:]}; classifier_fd takes {shapes}")
    model = spec.load()
    return fd_from_features(model.features(x).numpy(), model.features(y).numpy())
