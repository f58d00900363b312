"""Using coded denoisers: encode, draw codes, reconstruct, interpolate, edit, probe (DMZ, arXiv 2506.00136; DRL).

The model half — :class:`~difflab.models.coded.CodedDenoiser` and the encoders — is
part of the core (:mod:`difflab.models`), built from ``encoder.kind`` in the config;
it is re-exported here. DDIM inversion is a sampler-side tool (:mod:`difflab.sampling.inversion`).

Public API::

    encode(run, x0, t=None, *, hard=True) -> codes (B, d)
    sample_codes(run, n, *, source="fair"|"marginal"|"prior"|"data", seed=0) -> (n, d)
    prior.fit_code_prior(run) -> stats         # a MADE over the bits, stored beside the checkpoint
    transfer.fit_transfer(src_run, tgt_run) -> (CodeMap, stats)   # MLP source code -> target code
    transfer.transfer(src_run, tgt_run, code_map, x_src, steps=...) -> target-domain samples
    forward_mean.forward_mean_loss(mean, denoiser, x0, t, eps, schedule) -> (B,)  # learned forward mean (prototype)
    reconstruct(run, x0, *, steps, mode="stochastic"|"inverted") -> (B, *shape)
    interpolate(run, x_a, x_b, *, frames, steps, kind="soft"|"bitflip") -> (frames, *shape)
    edit_direction(codes, labels, target) / edit(run, x0, direction, strengths)
    ddim_invert(denoiser, process, x0, times, *, cond) -> x_T
    probe.linear_probe(codes, labels, folds=5) -> (mean acc, std)
"""

from difflab.dmz.codes import code_marginals, encode, sample_codes
from difflab.dmz.use import bitflip_path, decode, edit, edit_direction, interpolate, reconstruct, soft_path
from difflab.models.coded import CodedDenoiser, bit_entropy, encode_batch
from difflab.models.encoders import BinaryEncoder, CodeEncoder, DRLEncoder, GaussianEncoder, build_encoder
from difflab.sampling.inversion import ddim_invert

__all__ = [
    "CodedDenoiser",
    "CodeEncoder",
    "BinaryEncoder",
    "GaussianEncoder",
    "DRLEncoder",
    "build_encoder",
    "encode",
    "encode_batch",
    "sample_codes",
    "code_marginals",
    "bit_entropy",
    "ddim_invert",
    "decode",
    "reconstruct",
    "interpolate",
    "soft_path",
    "bitflip_path",
    "edit_direction",
    "edit",
]
