"""Coded denoisers: an encoder whose code z conditions the denoiser (DMZ, arXiv 2506.00136; DRL).

Public API::

    encode(run, x0, t=None, *, hard=True) -> codes (B, d)
    sample_codes(run, n, *, source="fair"|"marginal"|"prior", seed=0) -> (n, d)
    reconstruct(run, x0, *, steps, mode="stochastic"|"inverted") -> (B, *shape)
    interpolate(run, x_a, x_b, *, frames, steps, kind="soft"|"bitflip") -> (frames, *shape)
    edit_direction(codes, labels, target) / edit(run, x0, direction, strengths)
    ddim_invert(denoiser, process, x0, times, *, cond) -> x_T
    probe.linear_probe(codes, labels, folds=5) -> (mean acc, std)
"""

from difflab.dmz.coded import CodedDenoiser
from difflab.dmz.codes import bit_entropy, code_marginals, encode, encode_batch, sample_codes
from difflab.dmz.encoder import BinaryEncoder, CodeEncoder, DRLEncoder, GaussianEncoder, build_encoder
from difflab.dmz.inversion import ddim_invert
from difflab.dmz.use import bitflip_path, decode, edit, edit_direction, interpolate, reconstruct, soft_path

__all__ = ["CodedDenoiser", "CodeEncoder", "BinaryEncoder", "GaussianEncoder", "DRLEncoder", "build_encoder",
           "encode", "encode_batch", "sample_codes", "code_marginals", "bit_entropy", "ddim_invert", "decode",
           "reconstruct", "interpolate", "soft_path", "bitflip_path", "edit_direction", "edit"]
