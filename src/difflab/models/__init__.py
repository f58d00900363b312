"""Models built from a run config: the denoiser contract, coded denoisers, loading and generating.

Public API::

    Denoiser(network, process, prediction, generator_noise)   # (x_t, t, **cond) -> x̂₀
        .training_cond(x0, t, generator) -> (cond, penalty)     # extension points, no-op by default
        .default_cond(n, seed, given) -> cond
        .after_training(checkpoint_dir, train_data) / .on_load(checkpoint_dir, train_data)
    CodedDenoiser(encoder, denoiser, code_prior)              # DMZ / DRL: a code z conditions the denoiser
    build_encoder(cfg, shape) -> CodeEncoder                  # BinaryEncoder, GaussianEncoder, DRLEncoder
    build_denoiser(cfg, info, train_data) -> Denoiser
    load_run(path, *, ema=True, device="cpu") -> LoadedRun
    generate(run, n, *, steps, sampler, seed, grid, cond, x_T, seeds, ...) -> (samples, nfe)
        # steps / sampler / grid / sampler options default to the run's own sample section (as the CLI)
"""

from difflab.models.build import DataInfo, build_denoiser, load_weights, network_kwargs, seeded_init
from difflab.models.coded import CodedDenoiser, bit_entropy, encode_batch, require_coded
from difflab.models.denoiser import Denoiser
from difflab.models.encoders import BinaryEncoder, CodeEncoder, DRLEncoder, GaussianEncoder, build_encoder
from difflab.models.generate import CountingDenoiser, generate
from difflab.models.run import LoadedRun, data_info, load_data, load_run, load_run_checkpoint, resolve_checkpoint

__all__ = [
    "BinaryEncoder",
    "CodeEncoder",
    "CodedDenoiser",
    "CountingDenoiser",
    "DRLEncoder",
    "DataInfo",
    "Denoiser",
    "GaussianEncoder",
    "LoadedRun",
    "bit_entropy",
    "build_denoiser",
    "build_encoder",
    "data_info",
    "encode_batch",
    "generate",
    "load_data",
    "load_run",
    "load_weights",
    "network_kwargs",
    "require_coded",
    "load_run_checkpoint",
    "resolve_checkpoint",
    "seeded_init",
]
