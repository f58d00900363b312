"""Codes of a loaded coded run: encode data, draw codes for generation, per-bit statistics.

DMZ (arXiv 2506.00136) generates from independent fair bits — no learned
prior; the alternatives here are per-bit empirical marginals (estimated on the
training set and stored next to the checkpoint as ``code_marginals.json``) and
codes of encoded data. Code draws are seeded per sample, like the sampler
noise, so sample i does not depend on the batch or on n.
"""

import json
from pathlib import Path
from typing import Literal

import torch
from torch import Tensor

from difflab.dmz.coded import CodedDenoiser
from difflab.errors import DifflabError

MARGINALS_NAME = "code_marginals.json"
CODE_SEED_OFFSET = 7_777_777  # keeps code draws independent of the sampler's noise streams
CodeSource = Literal["fair", "marginal", "prior"]


def coded_model(run) -> CodedDenoiser:
    """The run's :class:`CodedDenoiser`, or a DifflabError naming what to do."""
    model = run.denoiser
    if not isinstance(model, CodedDenoiser):
        raise DifflabError(f"{run.path} is not a coded (DMZ/DRL) run: train one with encoder.kind set, "
                           "e.g. configs/digits-dmz.yaml")
    return model


@torch.no_grad()
def encode_batch(model: CodedDenoiser, x0: Tensor, t: Tensor | float | None = None, *, hard: bool = True,
                 batch_size: int = 1000) -> Tensor:
    """Codes ``(B, d)`` of normalised data ``x0`` ``(B, *shape)`` in batches (encoder in eval mode)."""
    was_training = model.training
    model.eval()
    device = model.process.scale.device
    try:
        out = []
        for start in range(0, x0.shape[0], batch_size):
            xb = x0[start:start + batch_size].to(device)
            tb = t
            if isinstance(t, Tensor) and t.ndim == 1:
                tb = t[start:start + batch_size].to(device)
            out.append(model.encode(xb, tb, hard=hard).float().cpu())
        return torch.cat(out)
    finally:
        model.train(was_training)


def encode(run, x0: Tensor, t: Tensor | float | None = None, *, hard: bool = True) -> Tensor:
    """Codes ``(B, d)`` of normalised data ``x0`` ``(B, *shape)`` under a loaded coded run.

    Args:
        run: a ``LoadedRun`` of a coded model.
        x0: data in the run's normalised space (as ``load_dataset`` returns it).
        t: time(s) in [0, 1] — scalar or ``(B,)``; required for a time-conditioned (drl) encoder.
        hard: binary codes: exact 0/1 bits (True) or soft probabilities of bit = 1 (False).
    """
    return encode_batch(coded_model(run), x0, t, hard=hard)


def bit_entropy(bits: Tensor) -> Tensor:
    """Per-bit entropy ``(d,)`` in bits of hard codes ``(N, d)`` (1 = a fair, fully used bit)."""
    p = bits.float().mean(0).clamp(1e-12, 1 - 1e-12)
    h = -(p * p.log2() + (1 - p) * (1 - p).log2())
    return torch.where((p <= 1e-12) | (p >= 1 - 1e-12), torch.zeros_like(h), h)


def store_marginals(ckpt_path: str | Path, model: CodedDenoiser, train_x: Tensor) -> Tensor | None:
    """Estimate per-bit P(bit = 1) on ``train_x`` and write them next to the checkpoint (binary codes)."""
    if model.encoder.kind != "binary":
        return None
    bits = encode_batch(model, train_x, hard=True)
    p = bits.mean(0)
    entropy = bit_entropy(bits)
    record = {"marginals": p.tolist(), "entropy_bits": entropy.tolist(), "n": int(bits.shape[0])}
    (Path(ckpt_path) / MARGINALS_NAME).write_text(json.dumps(record, indent=1))
    return p


def code_marginals(run) -> Tensor:
    """Per-bit P(bit = 1) ``(d,)``: the stored estimate, or computed now on the training set."""
    path = Path(run.path) / MARGINALS_NAME
    if path.exists():
        return torch.tensor(json.loads(path.read_text())["marginals"], dtype=torch.float32)
    from difflab.pipeline.run import load_data

    return encode(run, load_data(run.cfg).train, hard=True).mean(0)


def sample_codes(run, n: int, *, source: CodeSource | None = None, seed: int = 0) -> Tensor:
    """``n`` codes ``(n, d)`` for generation, code i seeded by ``(seed, i)`` alone.

    Args:
        source: ``fair`` bits, per-bit empirical ``marginal`` bits (binary codes) or the
            N(0, I) ``prior`` (gaussian codes); default ``encoder.prior`` for binary, ``prior`` otherwise.
    """
    model = coded_model(run)
    enc = model.encoder
    if enc.time_conditioned:
        raise DifflabError("a drl run has a time-dependent code and no prior: generate from data with "
                           "`difflab reconstruct` (or pass source=x0)")
    binary = enc.kind == "binary"
    source = source or (run.cfg.encoder.prior if binary else "prior")
    if binary == (source == "prior"):
        raise DifflabError(f"code source {source!r} does not fit a {enc.kind} code: use "
                           f"{'fair or marginal' if binary else 'prior'}")
    marginals = code_marginals(run) if source == "marginal" else None
    rows = []
    for i in range(n):
        g = torch.Generator().manual_seed(CODE_SEED_OFFSET + seed * 1_000_003 + i)
        rows.append(enc.prior(1, g, marginals) if binary else enc.prior(1, g))
    return torch.cat(rows) if rows else torch.zeros(0, enc.dim)


def entropy_summary(entropy: Tensor) -> dict[str, float]:
    """Total entropy (bits) and how many bits are used (entropy > 0.5 bit)."""
    return {"total_bits": float(entropy.sum()), "bits_used": int((entropy > 0.5).sum()),
            "dim": int(entropy.numel())}
