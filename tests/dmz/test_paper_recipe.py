"""configs/digits-dmz-paper.yaml is the paper's DMZ: BatchNorm encoder, Gumbel bits, one z token, no flips."""

import torch
from torch import nn

from difflab.config import load_config
from difflab.config.schema import RunConfig
from difflab.data import load_dataset
from difflab.models.build import DataInfo, build_denoiser
from difflab.nn import build_network

SHAPE = (1, 8, 8)


def _paper_model():
    cfg = load_config(RunConfig, "configs/digits-dmz-paper.yaml", ["network.base_channels=16", "encoder.dim=6"])
    data = load_dataset("digits")
    info = DataInfo("digits", SHAPE, 0, {})
    return cfg, build_denoiser(cfg, info, data.train[:64]), data


def test_paper_config_is_the_papers_recipe():
    cfg, model, _ = _paper_model()
    enc = cfg.encoder
    assert (enc.kind, enc.norm, enc.null_token, enc.flip, enc.tau, enc.z_mode) == (
        "binary",
        "batch",
        False,
        0.0,
        1.0,
        "cross_attn",
    )
    norms = [type(m) for m in model.encoder.modules() if isinstance(m, (nn.BatchNorm2d, nn.GroupNorm))]
    acts = [m for m in model.encoder.modules() if isinstance(m, nn.LeakyReLU)]
    assert norms and set(norms) == {nn.BatchNorm2d} and len(acts) == len(norms)
    assert model.network.null_token is None  # z is the only context token


def test_paper_bits_are_relaxed_in_training_hard_at_eval_and_carry_gradients():
    torch.manual_seed(0)
    _, model, data = _paper_model()
    x0 = data.train[:32]
    model.train()
    (cond, _) = model.training_cond(x0, torch.rand(32), torch.Generator().manual_seed(0))
    z = cond["z"]
    assert z.shape == (32, 6) and ((z > 0) & (z < 1)).all()  # relaxed Gumbel-softmax, no flips
    x_t, t = torch.randn_like(x0), torch.full((32,), 0.5)
    model(x_t, t, z=z).pow(2).mean().backward()  # the denoising loss reaches the encoder through the token
    grads = [p.grad for p in model.encoder.parameters()]
    assert all(g is not None for g in grads) and sum(float(g.abs().sum()) for g in grads) > 0
    model.eval()
    bits = model.encode(x0)
    assert set(bits.unique().tolist()) <= {0.0, 1.0}
    assert torch.equal(model.encode(x0[:1]), bits[:1])  # BatchNorm in eval: running statistics, per sample


def test_single_token_cross_attention_depends_on_z_and_skips_without_it():
    torch.manual_seed(0)
    kw = dict(base_channels=16, channel_mults=(1, 2), num_res_blocks=1, attention_levels=(1,), z_dim=6)
    net = build_network("unet", SHAPE, z_null_token=False, **kw).eval()
    x, t = torch.randn(2, *SHAPE), torch.full((2,), 0.5)
    with torch.no_grad():
        a, b = net(x, t, z=torch.zeros(2, 6)), net(x, t, z=torch.ones(2, 6))
        assert (a - b).abs().max() > 1e-4
        assert torch.isfinite(net(x, t)).all()  # no z: the cross-attention is skipped
    with_null = build_network("unet", SHAPE, **kw)
    n_single = sum(p.numel() for p in net.parameters())
    assert sum(p.numel() for p in with_null.parameters()) - n_single == with_null.null_token.numel()
