"""Mixers: shapes, sensitivity to the order of time points, exported attention weights."""

import torch

from difflab.representations import AttentionMixer, Concat, GRUMixer, SingleTime, build_mixer, sinusoidal_positions


def _x(b=6, k=5, f=7):
    return torch.randn(b, k, f, generator=torch.Generator().manual_seed(0))


def test_shapes_and_single_reads_one_time_point():
    x = _x()
    for kind in ("single", "single-mlp", "concat", "gru", "attention"):
        model = build_mixer(kind, 7, 5, 3, index=2).eval()
        assert model(x).shape == (6, 3)
    assert build_mixer("gru", 7, 5, 3, width=16).gru.hidden_size == 16
    assert build_mixer("attention", 7, 5, 3, width=32).summary.shape == (1, 1, 32)
    single = SingleTime(7, 3, index=2)
    y = x.clone()
    y[:, [0, 1, 3, 4]] = 0  # only index 2 matters
    torch.testing.assert_close(single(x), single(y))


def test_gru_and_attention_are_permutation_aware():
    torch.manual_seed(0)
    x = _x()
    perm = torch.tensor([4, 2, 0, 3, 1])
    for model in (GRUMixer(7, 3), AttentionMixer(7, 3, dim=32, heads=4).eval(), Concat(7, 3, 5)):
        assert not torch.allclose(model(x), model(x[:, perm]), atol=1e-5), type(model).__name__


def test_attention_without_positions_would_be_order_blind():
    # The check above is meaningful: with the positional encoding removed, attention pooling is permutation-invariant.
    torch.manual_seed(0)
    model = AttentionMixer(7, 3, dim=32, heads=4).eval()
    model.positions.zero_()
    x, perm = _x(), torch.tensor([4, 2, 0, 3, 1])
    torch.testing.assert_close(model(x), model(x[:, perm]), rtol=1e-4, atol=1e-5)


def test_attention_weights_are_exported():
    model = AttentionMixer(7, 3, dim=32, heads=4).eval()
    model(_x())
    w = model.last_attention
    assert w.shape == (6, 5)
    assert (w >= 0).all() and (w.sum(1) <= 1 + 1e-5).all() and (w.sum(1) > 0).all()


def test_sinusoidal_positions_distinct():
    pe = sinusoidal_positions(26, 256)
    assert pe.shape == (26, 256)
    assert torch.cdist(pe, pe).add(torch.eye(26)).min() > 0.1
