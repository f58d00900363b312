"""CodedDenoiser: an encoder whose code z conditions a denoiser, trained end to end.

DMZ (arXiv 2506.00136) trains the encoder only through the denoising loss: the
objective encodes x₀ (at the sampled t for a time-conditioned DRL encoder),
passes z to the denoiser and back-propagates into both. The module keeps the
denoiser contract ``(x_t, t, **cond) -> x̂₀``; the code is given either as
``z`` ``(B, d)`` or as ``source`` ``(B, *shape)`` clean data that is encoded
(at each call's t for a time-conditioned encoder — how DRL reconstructs).

It implements the :class:`~difflab.models.denoiser.Denoiser` extension points:
training encodes x₀ (:meth:`CodedDenoiser.training_cond`), sampling draws codes
from the configured source (:meth:`CodedDenoiser.default_cond`), and the per-bit
marginals of a binary code are written next to the final checkpoint
(``code_marginals.json``) and read back on load. How codes are *used* — encode a
run's data, reconstruct, interpolate, edit — lives in :mod:`difflab.dmz`.
"""

import json
from collections.abc import Callable
from pathlib import Path
from typing import Literal

import torch
from torch import Tensor, nn

from difflab.errors import DifflabError
from difflab.io import atomic_write_text
from difflab.models.code_prior import load_prior
from difflab.models.denoiser import Denoiser
from difflab.models.encoders import CodeEncoder
from difflab.process.noise import sample_seeds

MARGINALS_NAME = "code_marginals.json"
CODE_SEED_OFFSET = 7_777_777  # keeps code draws independent of the sampler's noise streams
CodeSource = Literal["fair", "marginal", "prior", "data"]
CODE_SOURCES = ("fair", "marginal", "prior", "data")


def bit_entropy(bits: Tensor) -> Tensor:
    """Per-bit entropy ``(d,)`` in bits of hard codes ``(N, d)`` (1 = a fair, fully used bit)."""
    p = bits.float().mean(0).clamp(1e-12, 1 - 1e-12)
    h = -(p * p.log2() + (1 - p) * (1 - p).log2())
    return torch.where((p <= 1e-12) | (p >= 1 - 1e-12), torch.zeros_like(h), h)


class CodedDenoiser(Denoiser):
    """Encoder + denoiser. State-dict keys: ``encoder.*`` and ``denoiser.*``.

    Args:
        encoder: x₀ (and t) -> code.
        denoiser: a :class:`Denoiser` whose network was built with ``z_dim = encoder.dim``.
        code_prior: the default source of sampled binary codes (``encoder.prior`` of the config):
            ``fair``, ``marginal``, ``prior`` (the learned MADE) or ``data``; continuous codes
            use their N(0, I) prior by default.
    """

    def __init__(self, encoder: CodeEncoder, denoiser: Denoiser, code_prior: CodeSource = "fair"):
        nn.Module.__init__(self)  # not Denoiser.__init__: the network and process stay under ``denoiser.*``
        self.encoder = encoder
        self.denoiser = denoiser
        self.prediction = denoiser.prediction
        self.generator_noise = denoiser.generator_noise
        self.code_prior = code_prior
        self._checkpoint: tuple[Path, Callable[[], Tensor] | None] | None = None
        # the learned code prior, read from the checkpoint folder on first use (a dict, so the MADE
        # is not registered as a submodule and never enters the state dict)
        self._prior: dict[str, nn.Module] = {}

    # The inner denoiser owns these modules (so old checkpoints keep their keys).
    @property
    def process(self):
        return self.denoiser.process

    @property
    def network(self) -> nn.Module:
        return self.denoiser.network

    # -- codes ---------------------------------------------------------------------
    def encode(self, x0: Tensor, t: Tensor | float | None = None, *, hard: bool = True) -> Tensor:
        """Deterministic code ``(B, d)``: hard bits (or soft probabilities) for a binary encoder, μ otherwise."""
        return self.encoder.code(x0, t, hard=hard)

    def code_marginals(self) -> Tensor:
        """Per-bit P(bit = 1) ``(d,)``: the stored estimate, or computed now on the training set.

        Raises:
            DifflabError: if the model was not loaded with ``load_run`` (no checkpoint to read).
        """
        if self._checkpoint is None:
            raise DifflabError("code marginals need a loaded run: load the model with load_run")
        path, train_data = self._checkpoint
        stored = path / MARGINALS_NAME
        if stored.exists():
            return torch.tensor(json.loads(stored.read_text())["marginals"], dtype=torch.float32)
        if train_data is None:
            raise DifflabError(f"{path} has no {MARGINALS_NAME} and no training data was given to recompute it")
        return encode_batch(self, train_data(), hard=True).mean(0)

    def checkpoint_folder(self) -> Path:
        """The folder of the loaded checkpoint (where the side files live)."""
        if self._checkpoint is None:
            raise DifflabError("this needs a loaded run: load the model with load_run")
        return self._checkpoint[0]

    def training_codes(self) -> Tensor:
        """Hard codes ``(N, d)`` of the run's training split (encoded now; binary bits or μ)."""
        if self._checkpoint is None or self._checkpoint[1] is None:
            raise DifflabError("codes of the training data need a loaded run: load the model with load_run")
        return encode_batch(self, self._checkpoint[1](), hard=True)

    def learned_prior(self):
        """The MADE stored by ``difflab fit-prior`` beside the checkpoint (cached after the first read)."""
        if "made" not in self._prior:
            self._prior["made"] = load_prior(self.checkpoint_folder())[0]
        return self._prior["made"]

    def sample_codes(self, n: int, *, source: CodeSource | None = None, seed: int = 0) -> Tensor:
        """``n`` codes ``(n, d)`` for generation, code i seeded by ``(seed, i)`` alone.

        Args:
            n: number of codes.
            source: binary codes: ``fair`` bits, per-bit empirical ``marginal`` bits, the learned
                ``prior`` (a MADE fitted by ``difflab fit-prior``) or ``data`` (codes of random
                training examples); gaussian codes: the N(0, I) ``prior`` or ``data``. Default:
                ``code_prior`` (``encoder.prior`` of the config) for binary, ``prior`` otherwise.
            seed: base seed.
        """
        enc = self.encoder
        if enc.time_conditioned:
            raise DifflabError(
                "a drl run has a time-dependent code and no prior: generate from data with "
                "`difflab reconstruct` (or pass source=x0)"
            )
        binary = enc.kind == "binary"
        source = source or (self.code_prior if binary else "prior")
        if source not in CODE_SOURCES or (not binary and source in ("fair", "marginal")):
            choices = "fair, marginal, prior or data" if binary else "prior or data"
            raise DifflabError(f"code source {source!r} does not fit a {enc.kind} code: use {choices}")
        gens = [torch.Generator().manual_seed(s) for s in sample_seeds(seed, n, offset=CODE_SEED_OFFSET)]
        if n == 0:
            return torch.zeros(0, enc.dim)
        if source == "data":
            codes = self.training_codes()
            return codes[torch.cat([torch.randint(codes.shape[0], (1,), generator=g) for g in gens])]
        if source == "prior" and binary:
            prior = self.learned_prior()
            if prior.dim != enc.dim:
                raise DifflabError(f"the stored code prior has {prior.dim} bits, the encoder {enc.dim}: refit it")
            return prior.sample(torch.cat([torch.rand((1, enc.dim), generator=g) for g in gens]))
        marginals = self.code_marginals() if source == "marginal" else None
        return torch.cat([enc.prior(1, g, marginals) if binary else enc.prior(1, g) for g in gens])

    def store_marginals(self, checkpoint_dir: str | Path, train_x: Tensor) -> Tensor | None:
        """Estimate per-bit P(bit = 1) on ``train_x`` and write them next to the checkpoint (binary codes)."""
        if self.encoder.kind != "binary":
            return None
        bits = encode_batch(self, train_x, hard=True)
        p = bits.mean(0)
        entropy = bit_entropy(bits)
        record = {"marginals": p.tolist(), "entropy_bits": entropy.tolist(), "n": int(bits.shape[0])}
        atomic_write_text(Path(checkpoint_dir) / MARGINALS_NAME, json.dumps(record, indent=1))  # never half-written
        return p

    # -- Denoiser extension points ------------------------------------------------
    def training_cond(
        self, x0: Tensor, t: Tensor, generator: torch.Generator | None
    ) -> tuple[dict[str, Tensor], Tensor]:
        """Encode x₀ (at t for a time-conditioned encoder), drawing from the trainer's generator.

        Returns:
            ``({"z": code}, penalty)``: the relaxed / reparameterised code ``(B, d)`` and the
            encoder's per-sample penalty ``(B,)`` (zero for binary codes).
        """
        z, penalty = self.encoder.sample(x0, t, generator)
        return {"z": z}, penalty

    def default_cond(self, n: int, seed: int, given: dict[str, Tensor] | None = None) -> dict[str, Tensor]:
        """Codes ``z`` from :meth:`sample_codes` unless the caller gave ``z`` or ``source``."""
        if given and ("z" in given or "source" in given):
            return {}
        return {"z": self.sample_codes(n, seed=seed)}

    def after_training(self, checkpoint_dir: Path, train_data: Tensor) -> None:
        """Write the per-bit marginals of a binary code next to the final checkpoint."""
        self.store_marginals(checkpoint_dir, train_data)

    def on_load(self, checkpoint_dir: Path, train_data: Callable[[], Tensor] | None = None) -> None:
        """Remember where the marginals and the learned prior are (read on use, like any side file)."""
        self._checkpoint = (Path(checkpoint_dir), train_data)
        self._prior.clear()

    # -- the contract -----------------------------------------------------------------
    def _code_cond(self, t: Tensor, cond: dict) -> dict:
        cond = dict(cond)
        source = cond.pop("source", None)
        if cond.get("z") is None and source is not None:
            time = t if self.encoder.time_conditioned else None
            cond["z"] = self.encode(source.to(t.device), time, hard=True)
        return cond

    def raw(self, x_t: Tensor, t: Tensor, **cond) -> Tensor:
        """The network output ``(B, *shape)``; see :meth:`Denoiser.raw` (plus ``source``, data to encode)."""
        t = torch.as_tensor(t, device=x_t.device).expand(x_t.shape[0])
        return self.denoiser.raw(x_t, t, **self._code_cond(t, cond))

    def forward(self, x_t: Tensor, t: Tensor, **cond) -> Tensor:
        """x̂₀ ``(B, *shape)`` given the code ``z`` ``(B, d)`` or clean ``source`` data to encode."""
        t = torch.as_tensor(t, device=x_t.device).expand(x_t.shape[0])
        return self.denoiser(x_t, t, **self._code_cond(t, cond))


@torch.no_grad()
def encode_batch(
    model: CodedDenoiser, x0: Tensor, t: Tensor | float | None = None, *, hard: bool = True, batch_size: int = 1000
) -> Tensor:
    """Codes ``(B, d)`` of normalised data ``x0`` ``(B, *shape)`` in batches (encoder in eval mode)."""
    was_training = model.training
    model.eval()
    device = model.process.scale.device
    try:
        out = []
        for start in range(0, x0.shape[0], batch_size):
            xb = x0[start : start + batch_size].to(device)
            tb = t
            if isinstance(t, Tensor) and t.ndim == 1:
                tb = t[start : start + batch_size].to(device)
            out.append(model.encode(xb, tb, hard=hard).float().cpu())
        return torch.cat(out)
    finally:
        model.train(was_training)


def require_coded(denoiser: nn.Module, where: str | Path) -> CodedDenoiser:
    """``denoiser`` as a :class:`CodedDenoiser`, or a DifflabError naming what to do (``where``: the run)."""
    if not isinstance(denoiser, CodedDenoiser):
        raise DifflabError(
            f"{where} is not a coded (DMZ/DRL) run: train one with encoder.kind set, e.g. configs/digits-dmz.yaml"
        )
    return denoiser
