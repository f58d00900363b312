"""Codes of a loaded coded run: encode data, draw codes for generation, per-bit statistics.

DMZ (arXiv 2506.00136) generates from independent fair bits; the alternatives
here are per-bit empirical marginals (estimated on the training set and stored
next to the checkpoint as ``code_marginals.json`` by the model's post-training
hook), a learned autoregressive prior (:mod:`difflab.dmz.prior`, fitted after
training) and codes of encoded training data. Code draws are seeded per
sample, like the sampler noise, so sample i does not depend on the batch or on n.
"""

from torch import Tensor

from difflab.models.coded import (
    CODE_SEED_OFFSET,
    MARGINALS_NAME,
    CodedDenoiser,
    CodeSource,
    bit_entropy,
    encode_batch,
    require_coded,
)
from difflab.models.run import LoadedRun

# Re-exported: the model half moved to difflab.models.coded.
__all__ = [
    "CODE_SEED_OFFSET",
    "MARGINALS_NAME",
    "CodeSource",
    "bit_entropy",
    "code_marginals",
    "coded_model",
    "encode",
    "encode_batch",
    "entropy_summary",
    "sample_codes",
]


def coded_model(run: LoadedRun) -> CodedDenoiser:
    """The run's :class:`CodedDenoiser`, or a DifflabError naming what to do."""
    return require_coded(run.denoiser, run.path)


def encode(run: LoadedRun, x0: Tensor, t: Tensor | float | None = None, *, hard: bool = True) -> Tensor:
    """Codes ``(B, d)`` of normalised data ``x0`` ``(B, *shape)`` under a loaded coded run.

    Args:
        run: a ``LoadedRun`` of a coded model.
        x0: data in the run's normalised space (as ``load_dataset`` returns it).
        t: time(s) in [0, 1] — scalar or ``(B,)``; required for a time-conditioned (drl) encoder.
        hard: binary codes: exact 0/1 bits (True) or soft probabilities of bit = 1 (False).
    """
    return encode_batch(coded_model(run), x0, t, hard=hard)


def code_marginals(run: LoadedRun) -> Tensor:
    """Per-bit P(bit = 1) ``(d,)``: the stored estimate, or computed now on the training set."""
    return coded_model(run).code_marginals()


def sample_codes(run: LoadedRun, n: int, *, source: CodeSource | None = None, seed: int = 0) -> Tensor:
    """``n`` codes ``(n, d)`` for generation, code i seeded by ``(seed, i)`` alone.

    Args:
        run: a loaded coded run.
        n: number of codes.
        source: ``fair`` bits, per-bit empirical ``marginal`` bits, the learned ``prior`` of
            ``difflab fit-prior`` or ``data`` codes (binary); the N(0, I) ``prior`` or ``data``
            (gaussian); default ``encoder.prior`` for binary, ``prior`` otherwise.
        seed: base seed; code i is drawn from the stream of ``(seed, i)``.
    """
    return coded_model(run).sample_codes(n, source=source, seed=seed)


def entropy_summary(entropy: Tensor) -> dict[str, float]:
    """Total entropy (bits) and how many bits are used (entropy > 0.5 bit)."""
    return {"total_bits": float(entropy.sum()), "bits_used": int((entropy > 0.5).sum()), "dim": int(entropy.numel())}
