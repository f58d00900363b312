"""digits views: paired domains of the same images, exact and exactly undone."""

import pytest
import torch

from difflab.data import load_dataset
from difflab.data.digits import VIEWS, apply_view, undo_view
from difflab.errors import DifflabError


def test_inverted_and_rotated_views_are_paired_with_the_plain_digits():
    plain = load_dataset("digits")
    inv = load_dataset("digits", view="inverted")
    rot = load_dataset("digits", view="rot90")
    assert torch.equal(inv.train, -plain.train)  # raw 16 - x is exactly -x in [-1, 1]
    assert torch.equal(inv.normaliser.decode(inv.test), 16 - plain.normaliser.decode(plain.test))
    assert torch.equal(rot.train[:, 0, 0, :], plain.train[:, 0, :, -1])  # the last column becomes the top row
    for ds in (inv, rot):
        assert torch.equal(ds.train_labels, plain.train_labels) and torch.equal(ds.test_labels, plain.test_labels)
    assert torch.equal(undo_view(rot.test, "rot90"), plain.test) and torch.equal(
        undo_view(inv.test, "inverted"), plain.test
    )


@pytest.mark.parametrize("view", VIEWS)
def test_undo_view_inverts_apply_view(view):
    x = torch.randn(3, 1, 8, 8)
    assert torch.equal(undo_view(apply_view(x, view), view), x)


def test_unknown_view_is_one_clear_error():
    with pytest.raises(DifflabError, match="option view='mirror' is not valid; choose one of plain, inverted, rot90"):
        load_dataset("digits", view="mirror")
