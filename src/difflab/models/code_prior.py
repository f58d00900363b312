"""A learned prior over binary codes: MADE (Germain et al., arXiv 1502.03509).

DMZ (arXiv 2506.00136) generates from independent fair bits and names an
autoregressive prior as the alternative. On digits the bits a trained encoder
uses are strongly correlated, so independent draws land on codes the decoder
never saw; a MADE models the joint law p(z) = ∏ᵢ p(zᵢ | z₍<ᵢ₎) in one masked
network (one ordering, natural order) and samples in d passes.

Stored beside the run's final checkpoint as ``code_prior.safetensors`` (weights)
and ``code_prior.json`` (architecture and fit statistics); nothing is unpickled.
"""

import math
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from difflab.errors import DifflabError
from difflab.io.small_model import read_small_model, save_small_model
from difflab.models.small_fit import fit_early_stopped

PRIOR_WEIGHTS = "code_prior.safetensors"
PRIOR_JSON = "code_prior.json"


class MaskedLinear(nn.Linear):
    """A Linear layer whose weight is multiplied by a fixed 0/1 connectivity mask ``(out, in)``."""

    def __init__(self, mask: Tensor):
        super().__init__(mask.shape[1], mask.shape[0])
        self.register_buffer("mask", mask.float())

    def forward(self, x: Tensor) -> Tensor:
        return F.linear(x, self.weight * self.mask, self.bias)


class MADE(nn.Module):
    """Autoregressive Bernoulli model over ``d`` bits: output i (the logit of bit i) sees bits ``< i`` only.

    Args:
        dim: number of bits d.
        hidden: width of each hidden layer.
        layers: number of hidden layers.
    """

    def __init__(self, dim: int, hidden: int = 256, layers: int = 2):
        super().__init__()
        if dim < 1 or hidden < 1 or layers < 1:
            raise DifflabError(f"MADE needs dim, hidden, layers >= 1, got {dim}, {hidden}, {layers}")
        self.dim, self.hidden, self.layers = dim, hidden, layers
        # Degrees: input k has k (1-based); hidden units cycle through 1..d-1 (deterministic, so a
        # stored prior rebuilds exactly); output i connects to hidden units of degree < i.
        deg_in = torch.arange(1, dim + 1)
        deg_h = torch.arange(hidden) % max(dim - 1, 1) + 1
        mods: list[nn.Module] = []
        prev = deg_in
        for _ in range(layers):
            mods += [MaskedLinear(deg_h[:, None] >= prev[None, :]), nn.ReLU()]
            prev = deg_h
        if dim == 1:  # one bit: no inputs to condition on, the logit is the bias
            prev = torch.full_like(prev, 2)
        mods.append(MaskedLinear(deg_in[:, None] > prev[None, :]))
        self.net = nn.Sequential(*mods)

    def forward(self, z: Tensor) -> Tensor:
        """Logits ``(B, d)`` of P(bit i = 1 | bits < i) for codes ``z`` ``(B, d)``."""
        return self.net(z.float())

    def log_prob(self, z: Tensor) -> Tensor:
        """Log p(z) in nats ``(B,)`` of hard codes ``z`` ``(B, d)``."""
        return -F.binary_cross_entropy_with_logits(self(z), z.float(), reduction="none").sum(1)

    def nll_bits(self, z: Tensor) -> float:
        """Mean negative log-likelihood in bits per code."""
        with torch.no_grad():
            return float(-self.log_prob(z).mean() / math.log(2))

    @torch.no_grad()
    def sample(self, u: Tensor) -> Tensor:
        """Codes ``(B, d)`` from uniforms ``u`` ``(B, d)``: bit i = 1 iff uᵢ < P(bit i = 1 | bits < i).

        The caller draws ``u`` (per sample, from its own seed), so code i depends on its seed alone.
        """
        z = torch.zeros_like(u)
        for i in range(self.dim):
            p = torch.sigmoid(self(z)[:, i])
            z[:, i] = (u[:, i] < p).float()
        return z


def empirical_entropy(bits: Tensor) -> float:
    """Plug-in entropy (bits) of the empirical law of the rows of ``bits`` ``(N, d)`` (≤ log₂ N)."""
    _, counts = torch.unique(bits.round().long(), dim=0, return_counts=True)
    p = counts.double() / counts.sum()
    return float(-(p * p.log2()).sum())


def fit_made(
    codes: Tensor,
    *,
    hidden: int = 256,
    layers: int = 2,
    epochs: int = 200,
    lr: float = 3e-3,
    weight_decay: float = 1e-4,
    batch_size: int = 256,
    val_fraction: float = 0.1,
    seed: int = 0,
) -> tuple[MADE, dict]:
    """Fit a MADE to hard codes ``(N, d)`` by maximum likelihood (Adam).

    A random ``val_fraction`` of the codes is held out; the weights of the epoch with the best
    held-out NLL are kept (early stopping selects on that split, never on the reported test codes).

    Returns:
        the model (eval mode) and statistics: NLL in bits per code on the fit and held-out codes,
        the plug-in entropy of all codes, and the epoch that was kept.
    """
    codes = codes.float().round()
    n = codes.shape[0]
    if n < 2:
        raise DifflabError(f"fitting a code prior needs at least 2 codes, got {n}")
    g = torch.Generator().manual_seed(seed)
    perm = torch.randperm(n, generator=g)
    n_val = max(1, int(round(val_fraction * n))) if val_fraction > 0 else 0
    val, fit = codes[perm[:n_val]], codes[perm[n_val:]]
    torch.manual_seed(seed)  # the initialisation
    model = MADE(codes.shape[1], hidden, layers)
    with torch.no_grad():  # start from the independent-bit fit: the output biases are the marginals' logits
        model.net[-1].bias.copy_(fit.mean(0).clamp(0.01, 0.99).logit())
    best_epoch = fit_early_stopped(
        model,
        lambda idx: -model.log_prob(fit[idx]).mean(),
        fit.shape[0],
        epochs=epochs,
        lr=lr,
        weight_decay=weight_decay,
        batch_size=batch_size,
        generator=g,
        score=lambda: model.nll_bits(val) if n_val else model.nll_bits(fit),
    )
    stats = {
        "n_fit": int(fit.shape[0]),
        "n_val": int(n_val),
        "nll_bits_fit": model.nll_bits(fit),
        "nll_bits_val": model.nll_bits(val) if n_val else None,
        "empirical_entropy_bits": empirical_entropy(codes),
        "unique_codes": int(torch.unique(codes, dim=0).shape[0]),
        "dim": int(codes.shape[1]),
        "epoch": best_epoch,
        "epochs": epochs,
        "seed": seed,
    }
    return model, stats


def save_prior(folder: str | Path, model: MADE, stats: dict) -> None:
    """Write ``code_prior.safetensors`` and ``code_prior.json`` into ``folder`` (each atomically)."""
    state = {k: v for k, v in model.state_dict().items() if not k.endswith("mask")}  # masks are rebuilt
    arch = {"kind": "made", "dim": model.dim, "hidden": model.hidden, "layers": model.layers}
    save_small_model(folder, (PRIOR_WEIGHTS, PRIOR_JSON), state, arch, stats)


def load_prior(folder: str | Path) -> tuple[MADE, dict]:
    """The MADE stored in ``folder`` and its statistics; a DifflabError if there is none."""
    state, arch, stats = read_small_model(
        folder, (PRIOR_WEIGHTS, PRIOR_JSON), f"{folder} has no learned code prior: fit one with `difflab fit-prior RUN`"
    )
    model = MADE(int(arch["dim"]), int(arch["hidden"]), int(arch["layers"]))
    missing, unexpected = model.load_state_dict(state, strict=False)
    if unexpected or [k for k in missing if not k.endswith("mask")]:
        raise DifflabError(f"{Path(folder) / PRIOR_WEIGHTS} does not match its {PRIOR_JSON}: it is corrupt")
    return model.eval(), stats
