"""The paper's DRL representation (Mittal et al., arXiv 2210.13774): E(x0, t) with t in every block,
the code at the bottleneck and in the time embedding, L1 and KL variants, save/load, both sources."""

import pytest
import torch
from safetensors.torch import load_file
from torch.distributions import Normal, kl_divergence

from difflab.config import load_config
from difflab.config.schema import EncoderConfig, MethodConfig, RunConfig
from difflab.models.build import DataInfo, build_denoiser
from difflab.models.encoders import build_encoder, gaussian_kl
from difflab.nn.unet import UNet
from difflab.objectives.build import build_objective
from difflab.pipeline import load_run, train_run
from difflab.representations import represent
from difflab.representations.sources import encode_codes

SHAPE = (1, 8, 8)


def _x(n=5, seed=0):
    return torch.randn(n, *SHAPE, generator=torch.Generator().manual_seed(seed))


def _encoder(penalty="l1", time_conditioning="blocks", dim=64):
    cfg = EncoderConfig(kind="drl", dim=dim, penalty=penalty, time_conditioning=time_conditioning, channels=[8, 16])
    torch.manual_seed(0)
    return build_encoder(cfg, SHAPE).eval()


@pytest.mark.parametrize("penalty", ["l1", "kl"])
def test_time_changes_the_code_from_the_first_block_on(penalty):
    enc, x = _encoder(penalty), _x()
    first = []
    enc.trunk.blocks[0].register_forward_hook(lambda m, i, o: first.append(o))
    a, b = enc.code(x, torch.full((5,), 0.1)), enc.code(x, torch.full((5,), 0.9))
    assert a.shape == (5, 64) and not torch.allclose(a, b, atol=1e-4)
    # t enters inside the first residual block already, not only after the trunk (as FiLM would).
    assert not torch.allclose(first[0], first[1], atol=1e-5)
    torch.testing.assert_close(enc.code(x, torch.full((5,), 0.1)), a)  # deterministic at evaluation


def test_film_encoder_stays_available_and_differs_in_structure():
    film = _encoder(time_conditioning="film")
    assert not hasattr(film.trunk, "blocks") and hasattr(film, "time_mlp")
    assert not torch.allclose(film.code(_x(), torch.zeros(5)), film.code(_x(), torch.ones(5)), atol=1e-5)


def test_kl_term_matches_torch_distributions():
    g = torch.Generator().manual_seed(1)
    mu, logvar = torch.randn(4, 7, generator=g), torch.randn(4, 7, generator=g)
    want = kl_divergence(Normal(mu, (0.5 * logvar).exp()), Normal(torch.zeros(7), torch.ones(7))).sum(1)
    torch.testing.assert_close(gaussian_kl(mu, logvar), want)
    enc = _encoder("kl")
    _, penalty = enc.sample(_x(), torch.full((5,), 0.5), torch.Generator().manual_seed(0))
    m, lv = enc._mu_logvar(_x(), torch.full((5,), 0.5))
    torch.testing.assert_close(penalty, enc.weight * gaussian_kl(m, lv))


def _coded(penalty="l1", weight=0.0):
    cfg = load_config(
        RunConfig,
        "configs/digits-drl.yaml",
        ["network.base_channels=8", "encoder.channels=[8,16]", f"encoder.penalty={penalty}"],
    )
    cfg.encoder.penalty_weight = weight
    info = DataInfo("digits", SHAPE, 0, {"shift": 0.0, "scale": 1.0})
    torch.manual_seed(0)
    return cfg, build_denoiser(cfg, info, torch.randn(64, *SHAPE))


@pytest.mark.parametrize("penalty", ["l1", "kl"])
def test_gradient_reaches_the_encoder_through_the_denoising_loss(penalty):
    cfg, model = _coded(penalty, weight=0.0)  # no penalty: every encoder gradient comes through the score net
    assert cfg.encoder.dim >= 64 and model.network.z_mode == "time_bottleneck"
    objective = build_objective(MethodConfig(kind="regression", prediction="v"))
    objective(model, _x(16), None, torch.Generator().manual_seed(0)).mean().backward()
    for name in ("trunk.blocks.0.emb_proj.1.weight", "trunk.blocks.1.conv1.weight", "head.weight"):
        grad = model.encoder.get_parameter(name).grad
        assert grad is not None and grad.abs().sum() > 0, name
    for route in ("z_map.2.weight", "cond.z_proj.0.weight"):  # both conditioning routes carry the code
        grad = model.network.get_parameter(route).grad
        assert grad is not None and grad.abs().sum() > 0, route


def test_the_bottleneck_map_alone_carries_the_code():
    torch.manual_seed(0)
    kw = dict(in_channels=1, base_channels=8, channel_mults=(1, 2), num_res_blocks=1, z_dim=6)
    net = UNet(**kw, z_mode="time_bottleneck")
    with torch.no_grad():
        for p in net.cond.z_proj.parameters():
            p.zero_()  # silence the time-embedding route
    x, t = _x(3), torch.full((3,), 0.5)
    z1, z2 = torch.randn(3, 6), torch.randn(3, 6)
    assert not torch.allclose(net(x, t, z=z1), net(x, t, z=z2), atol=1e-6)
    assert "mid.res.0" in net.components() and net.mid.res[0].in_ch == 16 + 8


@pytest.fixture(scope="module")
def drl_run_dir(tmp_path_factory):
    cfg = load_config(
        RunConfig,
        "configs/digits-drl.yaml",
        [
            "train.steps=2",
            "train.batch_size=16",
            "network.base_channels=8",
            "network.attention_levels=[]",
            "encoder.channels=[8,16]",
            "train.checkpoint_every=2",
            "train.log_every=2",
        ],
    )
    return train_run(cfg, tmp_path_factory.mktemp("drl_run"), progress=False)


def test_save_load_round_trip(drl_run_dir):
    run = load_run(drl_run_dir)
    enc = run.denoiser.encoder
    assert enc.time_blocks and run.denoiser.network.z_mode == "time_bottleneck"
    stored = {}
    for f in drl_run_dir.rglob("*.safetensors"):
        stored.update(load_file(str(f)))
    state = run.denoiser.state_dict()
    names = [k for k in state if k.startswith("encoder.trunk.blocks.0")]
    assert names and any(torch.equal(state[names[0]], v) for v in stored.values())
    x, t = _x(4), torch.full((4,), 0.3)
    torch.testing.assert_close(encode_codes(load_run(drl_run_dir), x, t), encode_codes(run, x, t))


def test_represent_works_for_both_sources(drl_run_dir):
    times = [0.0, 0.5, 1.0]
    drl = represent(drl_run_dir, times=times, source="drl", batch_size=512)
    unet = represent(drl_run_dir, times=times, source="unet", batch_size=512)
    assert drl.train.shape == (1437, 3, 64) and unet.train.shape[:2] == (1437, 3)
    assert not torch.allclose(drl.train[:, 0], drl.train[:, 2])  # the code is a function of t
