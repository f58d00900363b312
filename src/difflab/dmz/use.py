"""Using a code: decode, reconstruct, interpolate, edit (DMZ, arXiv 2506.00136).

- reconstruction: encode x₀, then decode *stochastically* (fresh x_T, any
  sampler) or *deterministically* from DDIM-inverted noise
  (:mod:`difflab.sampling.inversion`);
- interpolation: linear on the soft codes (the "bit = 1" probabilities), or a
  bit-flip path that flips the differing bits one at a time, least confident
  first;
- editing: move a soft code along a linear classifier's direction in code space.

Strips and paths decode every frame from the *same* x_T with deterministic DDIM,
so only the code changes along a row. Decoding is :func:`difflab.models.generate`
with the code as conditioning.
"""

from typing import Literal

import torch
from torch import Tensor

from difflab.dmz.codes import coded_model
from difflab.errors import DifflabError
from difflab.models.coded import encode_batch
from difflab.models.generate import generate
from difflab.models.run import LoadedRun
from difflab.process.noise import sample_seeds
from difflab.sampling import build_grid
from difflab.sampling.inversion import ddim_invert


@torch.no_grad()
def decode(
    run: LoadedRun,
    z: Tensor | None,
    *,
    steps: int,
    sampler: str = "ddim",
    seed: int = 0,
    shared_noise: bool = False,
    x_T: Tensor | None = None,
    source: Tensor | None = None,
    grid: str = "uniform",
    sampler_options: dict | None = None,
) -> Tensor:
    """Generate ``(B, *shape)`` from codes ``z`` ``(B, d)`` (or clean ``source`` data for a drl run).

    Args:
        run: a loaded coded run.
        z: codes ``(B, d)``, or ``None`` when ``source`` is given.
        steps: sampler steps.
        sampler: a registered sampler name.
        seed: base seed; row i uses the noise stream of ``(seed, i)``.
        shared_noise: every row starts from the x_T of sample 0 of ``seed`` (for strips).
        x_T: explicit start noise ``(B, *shape)`` (e.g. from DDIM inversion).
        source: clean data ``(B, *shape)`` encoded at each step's t (a drl run), instead of ``z``.
        grid: time grid name.
        sampler_options: options of the sampler, e.g. ``{"eta": 0.5}``.
    """
    model = coded_model(run)
    b = (z if z is not None else source).shape[0]
    cond = {"z": z} if z is not None else {"source": source}
    model.eval()
    out, _ = generate(
        run,
        b,
        steps=steps,
        sampler=sampler,
        seed=seed,
        grid=grid,
        batch_size=b,
        cond=cond,
        sampler_options=sampler_options,
        x_T=x_T,
        seeds=sample_seeds(seed, 1) * b if shared_noise else None,
    )
    return out


def _code_cond(model, x0: Tensor, hard: bool) -> dict:
    if model.encoder.time_conditioned:
        return {"source": x0}
    return {"z": encode_batch(model, x0, hard=hard)}


@torch.no_grad()
def reconstruct(
    run: LoadedRun,
    x0: Tensor,
    *,
    steps: int,
    mode: Literal["stochastic", "inverted"] = "stochastic",
    sampler: str = "ddim",
    seed: int = 0,
    hard: bool = True,
) -> Tensor:
    """Encode ``x0`` ``(B, *shape)`` and decode it back ``(B, *shape)``.

    ``stochastic``: fresh noise x_T (seeded per sample) and ``sampler``;
    ``inverted``: x_T from DDIM inversion of x₀ under its own code, then DDIM on the same grid.
    """
    model = coded_model(run)
    model.eval()
    cond = _code_cond(model, x0, hard)
    if mode == "stochastic":
        return decode(run, cond.get("z"), source=cond.get("source"), steps=steps, sampler=sampler, seed=seed)
    if mode != "inverted":
        raise DifflabError(f"reconstruction mode must be 'stochastic' or 'inverted', got {mode!r}")
    process = model.process
    device = process.scale.device
    times = build_grid("uniform", process, steps)
    cond = {k: v.to(device) for k, v in cond.items()}
    x_T = ddim_invert(model, process, x0.to(device), times, cond=cond)
    return decode(run, cond.get("z"), source=cond.get("source"), steps=steps, x_T=x_T)


def soft_path(z_a: Tensor, z_b: Tensor, frames: int) -> Tensor:
    """Linear path ``(frames, d)`` between two codes ``(d,)`` (soft codes for binary encoders)."""
    lam = torch.linspace(0, 1, frames, dtype=z_a.dtype)[:, None]
    return (1 - lam) * z_a[None] + lam * z_b[None]


def bitflip_path(bits_a: Tensor, bits_b: Tensor, confidence: Tensor | None = None) -> Tensor:
    """Hard codes ``(k + 1, d)`` from ``bits_a`` to ``bits_b`` flipping one differing bit per row.

    Args:
        bits_a: start code ``(d,)``.
        bits_b: end code ``(d,)``.
        confidence: ``(d,)`` order key; bits with the smallest value flip first
            (default: index order).
    """
    diff = (bits_a != bits_b).nonzero().flatten()
    if confidence is not None:
        diff = diff[confidence[diff].argsort()]
    rows, cur = [bits_a.clone()], bits_a.clone()
    for j in diff:
        cur = cur.clone()
        cur[j] = bits_b[j]
        rows.append(cur)
    return torch.stack(rows)


@torch.no_grad()
def interpolate(
    run: LoadedRun,
    x_a: Tensor,
    x_b: Tensor,
    *,
    frames: int = 8,
    steps: int = 16,
    kind: Literal["soft", "bitflip"] = "soft",
    seed: int = 0,
) -> Tensor:
    """Decode a path between the codes of ``x_a`` and ``x_b`` (each ``(*shape)``) -> ``(frames', *shape)``.

    ``soft``: ``frames`` codes on the line between the soft codes; ``bitflip``: the bit-flip
    path between the hard codes, flipping the bits where ``x_a``'s code is least confident first.
    """
    model = coded_model(run)
    if model.encoder.time_conditioned:
        raise DifflabError("interpolation needs a time-independent code (binary or gaussian), not drl")
    pair = torch.stack([x_a, x_b])
    if kind == "soft":
        soft = encode_batch(model, pair, hard=False)
        path = soft_path(soft[0], soft[1], frames)
    elif kind == "bitflip":
        if model.encoder.kind != "binary":
            raise DifflabError("a bit-flip path needs a binary code (encoder.kind: binary)")
        bits = encode_batch(model, pair, hard=True)
        conf = (encode_batch(model, pair[:1], hard=False)[0] - 0.5).abs()
        path = bitflip_path(bits[0], bits[1], conf)
    else:
        raise DifflabError(f"interpolation kind must be 'soft' or 'bitflip', got {kind!r}")
    return decode(run, path, steps=steps, seed=seed, shared_noise=True)


def edit_direction(codes: Tensor, labels: Tensor, target: int) -> Tensor:
    """Unit direction ``(d,)`` in code space towards class ``target`` (one-vs-rest logistic regression)."""
    from sklearn.linear_model import LogisticRegression  # sklearn takes ~1 s to import: only when used

    y = (labels.numpy() == target).astype(int)
    if y.min() == y.max():
        raise DifflabError(f"class {target} is absent (or the only class) in the labels: cannot fit a direction")
    clf = LogisticRegression(max_iter=2000).fit(codes.numpy(), y)
    w = torch.tensor(clf.coef_[0], dtype=torch.float32)
    return w / w.norm().clamp_min(1e-12)


@torch.no_grad()
def edit(
    run: LoadedRun, x0: Tensor, direction: Tensor, strengths: list[float], *, steps: int = 16, seed: int = 0
) -> Tensor:
    """Decode ``x0``'s soft code moved by each strength along ``direction`` -> ``(len(strengths), *shape)``.

    Binary codes are clamped to [0, 1] (probabilities of bit = 1).
    """
    model = coded_model(run)
    z = encode_batch(model, x0[None], hard=False)[0]
    path = torch.stack([z + s * direction for s in strengths])
    if model.encoder.kind == "binary":
        path = path.clamp(0, 1)
    return decode(run, path, steps=steps, seed=seed, shared_noise=True)
