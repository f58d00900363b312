"""Registry: names, option validation and its error messages."""

import pytest

from difflab.data import DEFAULT_DATASET, dataset_names, dataset_options, load_dataset, registry
from difflab.errors import DifflabError


def test_names_and_default():
    names = dataset_names()
    assert names[0] == DEFAULT_DATASET == "digits"
    assert set(names) >= {"digits", "patches", "toy2d", "gmm", "npy", "folder", "mnist", "fashion-mnist", "cifar10"}
    assert load_dataset().name == "digits"


def test_unknown_dataset_lists_valid_names():
    with pytest.raises(DifflabError, match=r"unknown dataset 'celeba'.*digits.*cifar10"):
        load_dataset("celeba")


def test_unknown_option_is_named_with_valid_options(monkeypatch):
    with pytest.raises(DifflabError, match=r"no option n_samples; valid options: which, n_train, n_test, seed"):
        load_dataset("toy2d", n_samples=3)
    with pytest.raises(DifflabError, match=r"no option size; valid options: view$"):
        load_dataset("digits", size=3)
    # A loader without options says so rather than listing nothing.
    monkeypatch.setattr(registry, "dataset_options", lambda name: {})
    with pytest.raises(DifflabError, match=r"no option size; valid options: \(none\)"):
        load_dataset("digits", size=3)


def test_required_option_missing():
    with pytest.raises(DifflabError, match="needs option path"):
        load_dataset("npy")


def test_name_is_forgiving_about_case_and_underscore(tmp_path):
    assert "data_dir" in dataset_options("Fashion_MNIST")
    with pytest.raises(DifflabError, match="fashion-mnist: expected"):
        load_dataset("fashion_mnist", data_dir=str(tmp_path))
