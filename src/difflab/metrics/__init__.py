"""Sample-quality metrics: generated samples vs a held-out reference set.

Inputs are torch tensors or numpy arrays ``(N, *shape)`` in the model's
normalised space; every metric returns a Python float (or a dict of them).
"""

from difflab.metrics.classifier_fd import classifier_fd, classifier_for
from difflab.metrics.digits_classifier import DigitsClassifier, load_digits_classifier, normalise_digits
from difflab.metrics.evaluate import evaluate
from difflab.metrics.frechet import fd_from_features, frechet_distance, pca_fd
from difflab.metrics.kernels import mmd_rbf
from difflab.metrics.memorisation import memorisation
from difflab.metrics.mnist_classifier import MnistClassifier, load_mnist_classifier
from difflab.metrics.sliced import sliced_wasserstein
from difflab.metrics.spectrum import radial_power_spectrum, spectrum_error

__all__ = [
    "DigitsClassifier",
    "MnistClassifier",
    "classifier_fd",
    "classifier_for",
    "evaluate",
    "fd_from_features",
    "frechet_distance",
    "load_digits_classifier",
    "load_mnist_classifier",
    "memorisation",
    "mmd_rbf",
    "normalise_digits",
    "pca_fd",
    "radial_power_spectrum",
    "sliced_wasserstein",
    "spectrum_error",
]
