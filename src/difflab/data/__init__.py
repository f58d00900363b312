"""Datasets, stored normalised, with the normaliser that maps them back.

``load_dataset(name, **options)`` is the one entry point; see
:func:`dataset_names` for the built-in sources.
"""

from difflab.data.base import Dataset, Normaliser
from difflab.data.download import download
from difflab.data.registry import DEFAULT_DATASET, dataset_names, dataset_options, load_dataset

__all__ = [
    "DEFAULT_DATASET",
    "Dataset",
    "Normaliser",
    "dataset_names",
    "dataset_options",
    "download",
    "load_dataset",
]
