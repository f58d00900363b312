"""digits-attr: the digits on independent background levels; labels per attribute agree with each other."""

import torch

from difflab.data import load_dataset
from difflab.data.digits_attr import split_labels


def test_attributes_agree_and_the_background_shifts_the_mean():
    joint = load_dataset("digits-attr")
    digit = load_dataset("digits-attr", label="digit")
    bg = load_dataset("digits-attr", label="background", levels="3")  # CLI options arrive as text
    plain = load_dataset("digits")
    assert joint.num_classes == 30 and digit.num_classes == 10 and bg.num_classes == 3
    assert torch.equal(joint.train, digit.train) and torch.equal(joint.test, bg.test)  # one dataset, three labels
    d, b = split_labels(joint.train_labels, 3)
    assert torch.equal(d, digit.train_labels) and torch.equal(b, bg.train_labels)
    assert torch.equal(digit.train_labels, plain.train_labels) and torch.equal(digit.test_labels, plain.test_labels)
    torch.testing.assert_close(joint.train[b == 0], plain.train[b == 0])  # level 0 is the plain digit
    means = [joint.train[b == k].mean().item() for k in range(3)]
    assert means[0] < means[1] < means[2] and joint.train.min() >= -1 and joint.train.max() <= 1
    counts = torch.bincount(b, minlength=3)
    assert counts.min() > 400  # about a third each
    for k in range(10):  # background independent of the digit: every digit on every level
        assert (torch.bincount(b[d == k], minlength=3) > 20).all()
