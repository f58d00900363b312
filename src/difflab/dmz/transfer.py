"""Domain transfer through DMZ codes (arXiv 2506.00136; issue 15, item 4).

Two DMZ runs, one per domain, trained on *paired* data (image i of one domain is image i of the
other, e.g. ``digits`` and ``digits`` with ``view: inverted``). Their codes are learned apart,
so bit j of one means nothing to the other; an MLP learns the map source code -> target code on
the training pairs (binary targets: one BCE per target bit). Transfer: encode a source image,
map its code, decode it with the target run.

The MLP's size is chosen on a validation split carved from the training pairs (never on the
test split), the same split that picks its best epoch. Stored as ``code_map.safetensors``
(weights) + ``code_map.json`` (architecture and statistics), each written atomically.

Public API::

    select_code_map(src_codes, tgt_codes, *, sizes, val_fraction=0.2, seed=0) -> (CodeMap, stats)
    fit_code_map(src_codes, tgt_codes, *, hidden, val=None, seed=0) -> (CodeMap, stats)
    fit_transfer(src_run, tgt_run, **kw) -> (CodeMap, stats)      # codes of the paired training splits
    transfer(src_run, tgt_run, code_map, x_src, *, steps, ...) -> target-domain samples
    save_code_map(folder, code_map, stats) / load_code_map(folder) -> (CodeMap, stats)
"""

from collections.abc import Sequence
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from difflab.dmz.codes import coded_model
from difflab.dmz.use import decode
from difflab.errors import DifflabError
from difflab.io.small_model import read_small_model, save_small_model
from difflab.models.coded import encode_batch
from difflab.models.run import LoadedRun, load_data
from difflab.models.small_fit import fit_early_stopped

MAP_WEIGHTS = "code_map.safetensors"
MAP_JSON = "code_map.json"
# Candidate sizes (hidden widths; () = logistic regression per target bit) for select_code_map.
DEFAULT_SIZES: tuple[tuple[int, ...], ...] = ((), (64,), (256,), (256, 256))


class CodeMap(nn.Module):
    """MLP from source codes ``(B, d_in)`` to the logits ``(B, d_out)`` of the target bits.

    Args:
        d_in: source code size.
        d_out: target code size.
        hidden: widths of the hidden layers (ReLU); empty for a linear map.
    """

    def __init__(self, d_in: int, d_out: int, hidden: Sequence[int] = (256,)):
        super().__init__()
        if d_in < 1 or d_out < 1 or any(int(h) < 1 for h in hidden):
            raise DifflabError(f"a code map needs positive sizes, got d_in={d_in}, d_out={d_out}, hidden={hidden}")
        self.d_in, self.d_out, self.hidden = int(d_in), int(d_out), tuple(int(h) for h in hidden)
        mods: list[nn.Module] = []
        width = self.d_in
        for h in self.hidden:
            mods += [nn.Linear(width, h), nn.ReLU()]
            width = h
        mods.append(nn.Linear(width, self.d_out))
        self.net = nn.Sequential(*mods)

    def forward(self, z: Tensor) -> Tensor:
        """Logits of P(target bit = 1) ``(B, d_out)``."""
        return self.net(z.float())

    @torch.no_grad()
    def transfer(self, z: Tensor) -> Tensor:
        """Hard target codes ``(B, d_out)``: each bit the more probable value (deterministic)."""
        return (self(z) > 0).float()


def code_agreement(pred: Tensor, target: Tensor) -> dict[str, float]:
    """Fraction of bits equal and fraction of whole codes equal, for hard codes ``(B, d)``."""
    same = pred.round() == target.round()
    return {"bit_accuracy": float(same.float().mean()), "code_accuracy": float(same.all(1).float().mean())}


def _check_pairs(src: Tensor, tgt: Tensor) -> None:
    if src.ndim != 2 or tgt.ndim != 2 or src.shape[0] != tgt.shape[0] or src.shape[0] < 2:
        raise DifflabError(
            f"a code map needs paired codes (N, d_in) and (N, d_out) with N >= 2, got {tuple(src.shape)} "
            f"and {tuple(tgt.shape)}"
        )


def fit_code_map(
    src: Tensor,
    tgt: Tensor,
    *,
    hidden: Sequence[int] = (256,),
    val: tuple[Tensor, Tensor] | None = None,
    epochs: int = 200,
    lr: float = 3e-3,
    weight_decay: float = 1e-4,
    batch_size: int = 128,
    seed: int = 0,
) -> tuple[CodeMap, dict]:
    """Fit a :class:`CodeMap` from codes ``src`` ``(N, d_in)`` to hard codes ``tgt`` ``(N, d_out)`` (Adam, BCE).

    With ``val`` (paired codes held out of the fit), the epoch of the lowest held-out BCE is kept;
    without it, the last epoch.

    Returns:
        the map (eval mode) and statistics: BCE (nats per code) and bit / code accuracy on the fit
        and held-out pairs, the epoch kept.
    """
    _check_pairs(src, tgt)
    src, tgt = src.float(), tgt.float().round()
    if val is not None:
        _check_pairs(*val)
        val = (val[0].float(), val[1].float().round())
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)  # the initialisation
    model = CodeMap(src.shape[1], tgt.shape[1], hidden)
    with torch.no_grad():  # start from the target bits' marginals: output biases = their logits
        model.net[-1].bias.copy_(tgt.mean(0).clamp(0.01, 0.99).logit())

    def bce(a: Tensor, b: Tensor) -> float:
        with torch.no_grad():
            return float(F.binary_cross_entropy_with_logits(model(a), b, reduction="sum") / len(a))

    def batch_loss(idx: Tensor) -> Tensor:
        return F.binary_cross_entropy_with_logits(model(src[idx]), tgt[idx], reduction="sum") / len(idx)

    best_epoch = fit_early_stopped(
        model,
        batch_loss,
        len(src),
        epochs=epochs,
        lr=lr,
        weight_decay=weight_decay,
        batch_size=batch_size,
        generator=g,
        score=None if val is None else lambda: bce(*val),
    )
    stats = {"hidden": list(model.hidden), "n_fit": len(src), "epoch": best_epoch, "epochs": epochs, "seed": seed}
    stats["bce_fit"] = bce(src, tgt)
    stats.update({f"{k}_fit": v for k, v in code_agreement(model.transfer(src), tgt).items()})
    if val is not None:
        stats.update(n_val=len(val[0]), bce_val=bce(*val))
        stats.update({f"{k}_val": v for k, v in code_agreement(model.transfer(val[0]), val[1]).items()})
    return model, stats


def select_code_map(
    src: Tensor,
    tgt: Tensor,
    *,
    sizes: Sequence[Sequence[int]] = DEFAULT_SIZES,
    val_fraction: float = 0.2,
    seed: int = 0,
    **fit_options,
) -> tuple[CodeMap, dict]:
    """Fit one map per hidden-layer size in ``sizes``; keep the lowest BCE on a validation split.

    The split (``val_fraction`` of the pairs, seeded) is carved from the pairs given, so the
    choice never sees a test split. Returns the chosen map and its statistics, with
    ``candidates``: the statistics of every size.
    """
    _check_pairs(src, tgt)
    if not sizes:
        raise DifflabError("select_code_map needs at least one candidate size")
    if not 0.0 < val_fraction < 1.0:
        raise DifflabError(f"val_fraction must be in (0, 1), got {val_fraction}")
    perm = torch.randperm(len(src), generator=torch.Generator().manual_seed(seed))
    n_val = min(max(1, round(val_fraction * len(src))), len(src) - 2)
    v, f = perm[:n_val], perm[n_val:]
    fits = [fit_code_map(src[f], tgt[f], hidden=h, val=(src[v], tgt[v]), seed=seed, **fit_options) for h in sizes]
    best = min(range(len(fits)), key=lambda i: fits[i][1]["bce_val"])
    model, stats = fits[best]
    return model, {**stats, "val_fraction": val_fraction, "candidates": [s for _, s in fits]}


def paired_codes(src_run: LoadedRun, tgt_run: LoadedRun, split: str = "train") -> tuple[Tensor, Tensor]:
    """Hard codes of both runs on ``split`` of their own datasets, image i paired with image i.

    Raises:
        DifflabError: if the splits differ in size or in labels (the datasets are not paired).
    """
    if split not in ("train", "test"):
        raise DifflabError(f"split must be 'train' or 'test', got {split!r}")
    a, b = load_data(src_run.cfg), load_data(tgt_run.cfg)
    xa, xb = getattr(a, split), getattr(b, split)
    la, lb = getattr(a, f"{split}_labels"), getattr(b, f"{split}_labels")
    if len(xa) != len(xb) or (la is not None and lb is not None and not torch.equal(la, lb)):
        raise DifflabError(
            f"{src_run.path} and {tgt_run.path}: the {split} splits are not paired image by image "
            f"({len(xa)} vs {len(xb)} images, or different labels)"
        )
    return encode_batch(coded_model(src_run), xa, hard=True), encode_batch(coded_model(tgt_run), xb, hard=True)


def fit_transfer(src_run: LoadedRun, tgt_run: LoadedRun, **select_options) -> tuple[CodeMap, dict]:
    """:func:`select_code_map` on the codes of the two runs' paired training splits."""
    for run in (src_run, tgt_run):
        if coded_model(run).encoder.kind != "binary":
            raise DifflabError(f"{run.path}: domain transfer maps binary (DMZ) codes")
    return select_code_map(*paired_codes(src_run, tgt_run, "train"), **select_options)


@torch.no_grad()
def transfer(
    src_run: LoadedRun,
    tgt_run: LoadedRun,
    code_map: CodeMap,
    x_src: Tensor,
    *,
    steps: int,
    sampler: str = "dpmpp2m",
    seed: int = 0,
) -> Tensor:
    """Target-domain samples ``(B, *shape)`` of source images ``x_src``: encode, map the code, decode."""
    z = code_map.transfer(encode_batch(coded_model(src_run), x_src, hard=True))
    return decode(tgt_run, z, steps=steps, sampler=sampler, seed=seed)


def save_code_map(folder: str | Path, model: CodeMap, stats: dict) -> None:
    """Write ``code_map.safetensors`` and ``code_map.json`` into ``folder`` (each atomically)."""
    arch = {"kind": "mlp", "d_in": model.d_in, "d_out": model.d_out, "hidden": list(model.hidden)}
    save_small_model(folder, (MAP_WEIGHTS, MAP_JSON), model.state_dict(), arch, stats)


def load_code_map(folder: str | Path) -> tuple[CodeMap, dict]:
    """The code map stored in ``folder`` and its statistics; a DifflabError if there is none or it is corrupt."""
    state, arch, stats = read_small_model(
        folder, (MAP_WEIGHTS, MAP_JSON), f"{folder} has no code map ({MAP_JSON} + {MAP_WEIGHTS})"
    )
    model = CodeMap(int(arch["d_in"]), int(arch["d_out"]), arch["hidden"])
    if {k: v.shape for k, v in state.items()} != {k: v.shape for k, v in model.state_dict().items()}:
        raise DifflabError(f"{Path(folder) / MAP_WEIGHTS} does not match its {MAP_JSON}: it is corrupt")
    model.load_state_dict(state)
    return model.eval(), stats
