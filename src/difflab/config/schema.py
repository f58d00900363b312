"""The run config: one dataclass tree that a YAML file and ``key=value`` overrides fill.

The resolved config is written next to every checkpoint; a checkpoint plus its
config rebuilds the model with no other input (see :mod:`difflab.models.build`).
"""

from dataclasses import dataclass, field
from typing import Any, Literal

from difflab.data.registry import check_dataset_name
from difflab.errors import DifflabError
from difflab.process.options import ProcessOptions
from difflab.sampling.registry import GridName, SamplerName, options_of

# Allowed names come from the registries (difflab.process.bases.registry.BASES,
# difflab.process.schedules.registry.SCHEDULES, difflab.process.prior.PRIORS,
# difflab.sampling.registry.SAMPLERS / GRIDS, difflab.data.registry), except method.kind:
# objectives/build.py imports this module, so the kinds are spelled here and
# tests/config/test_registry_drift.py proves they are difflab.objectives.registry.OBJECTIVES.


@dataclass
class DataConfig:
    """Which dataset and its loader options (see ``difflab.data.load_dataset``)."""

    name: str = "digits"
    options: dict[str, Any] = field(default_factory=dict)

    def validate(self) -> None:
        check_dataset_name(self.name)


# The process section is the process's own options object (one list of options, passed whole
# to difflab.process.factory.build_process and kept on the built process as process.options).
ProcessConfig = ProcessOptions


@dataclass
class NetworkConfig:
    """Network family and size. ``unet`` for images, ``mlp`` for vectors.

    ``diffusers``: a ``diffusers.UNet2DModel`` (pixel basis, scalar schedules; exportable with
    ``difflab export --format diffusers``), built from the fields below or from ``diffusers``, a
    ``UNet2DModel`` config that overrides them (what ``difflab import`` writes).
    """

    kind: Literal["unet", "mlp", "diffusers"] = "unet"
    base_channels: int = 32
    channel_mults: list[int] = field(default_factory=lambda: [1, 2])
    num_res_blocks: int = 1
    attention_levels: list[int] = field(default_factory=lambda: [1])
    dropout: float = 0.0
    hidden: int = 256  # mlp
    depth: int = 4  # mlp
    class_conditional: bool = False
    diffusers: dict[str, Any] = field(default_factory=dict)  # kind diffusers: UNet2DModel config overrides

    def validate(self) -> None:
        if self.base_channels < 1 or self.num_res_blocks < 1 or not self.channel_mults:
            raise DifflabError(
                "network.base_channels, network.num_res_blocks and network.channel_mults must be positive"
            )
        bad = [lvl for lvl in self.attention_levels if not 0 <= lvl < len(self.channel_mults)]
        if bad:
            raise DifflabError(
                f"network.attention_levels {bad} out of range for {len(self.channel_mults)} levels "
                f"(0..{len(self.channel_mults) - 1})"
            )


@dataclass
class MethodConfig:
    """What the network learns.

    ``regression``: the mean E[x₀|x_t] through an ε/x₀/v target and MSE.
    ``distributional``: a generator of x₀ given x_t trained with a scoring rule
    (De Bortoli et al., arXiv 2502.02483); ``m`` samples per data point.
    """

    kind: Literal["regression", "distributional"] = "regression"  # == difflab.objectives.registry.OBJECTIVES
    prediction: Literal["eps", "x0", "v"] = "v"
    m: int = 8
    lam: float = 1.0
    beta: float = 1.0
    rule: Literal["energy", "kernel"] = "energy"
    kernel: Literal["rbf", "imq"] = "rbf"
    bandwidth: float | None = None
    noise_injection: Literal["concat", "gated"] = "concat"

    def validate(self) -> None:
        if self.kind == "distributional":
            if self.m < 2 and self.lam > 0:
                raise DifflabError("method.m must be >= 2 for a distributional model with method.lam > 0")
            if not 0 < self.beta <= 2:
                raise DifflabError(f"method.beta must be in (0, 2], got {self.beta}")
            if not 0 <= self.lam <= 1:
                raise DifflabError(f"method.lam must be in [0, 1], got {self.lam}")


@dataclass
class TrainConfig:
    """Optimisation, checkpointing and device."""

    steps: int = 2000
    batch_size: int = 128
    lr: float = 2e-3
    weight_decay: float = 0.0
    warmup_steps: int = 100
    grad_clip: float = 1.0
    grad_accum: int = 1
    ema_decay: float = 0.999
    checkpoint_every: int = 1000
    keep_last: int = 2
    log_every: int = 50
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    precision: Literal["fp32", "bf16"] = "bf16"  # bf16 autocast on CUDA only; CPU always fp32
    label_dropout: float = 0.0  # drop class labels for classifier-free guidance
    time_limit: float = 0.0  # seconds; > 0 stops (with a checkpoint) at the first step past it

    def validate(self) -> None:
        for key in ("steps", "batch_size", "grad_accum", "checkpoint_every", "log_every"):
            if getattr(self, key) < 1:
                raise DifflabError(f"train.{key} must be >= 1, got {getattr(self, key)}")
        if not 0 <= self.ema_decay < 1:
            raise DifflabError(f"train.ema_decay must be in [0, 1), got {self.ema_decay}")
        if self.lr <= 0:
            raise DifflabError(f"train.lr must be > 0, got {self.lr}")
        if self.time_limit < 0:
            raise DifflabError(f"train.time_limit must be >= 0 seconds, got {self.time_limit}")


@dataclass
class SampleConfig:
    """Defaults for ``sample`` and ``evaluate``.

    ``eta`` and ``churn`` are sampler options: each goes to the sampler whose signature takes it
    (``eta``: ddim, ``churn``: distributional) when the command line does not set it.
    """

    sampler: SamplerName = "ddim"
    steps: int = 32
    grid: GridName = "uniform"
    eta: float = 0.0  # ddim: churn η in [0, 1]
    churn: float = 0.0  # distributional sampler: 0 = DDIM bridge, 1 = DDPM posterior
    n_eval: int = 1000
    batch_size: int = 500

    def options_for(self, sampler: str) -> dict[str, Any]:
        """This section's values of ``sampler``'s own options (those its signature takes)."""
        return {k: getattr(self, k) for k in options_of(sampler) if hasattr(self, k)}


@dataclass
class EncoderConfig:
    """A code z = E(x₀) that conditions the denoiser (DMZ, arXiv 2506.00136; DRL, Abstreiter et al.).

    ``none``: a plain model. ``binary``: d bits through Gumbel-softmax, trained by the
    denoising loss alone. ``gaussian``: a reparameterised N(μ, σ²) code with
    ``kl_weight`` × KL to N(0, I). ``drl``: a time-conditioned encoder E(x₀, t)
    with ``penalty_weight`` × L1 (or KL) on the code. ``channels``: the stride-2 conv
    stack; ``norm``: GroupNorm (per-sample, deterministic, DDP-safe) or BatchNorm (as in the paper).
    """

    kind: Literal["none", "binary", "gaussian", "drl"] = "none"
    dim: int = 16
    z_mode: Literal["cross_attn", "adagn", "time"] = "cross_attn"
    z_levels: list[int] | None = None  # attention levels that cross-attend to z (None: all)
    channels: list[int] = field(default_factory=lambda: [32, 64])
    norm: Literal["group", "batch"] = "group"
    tau: float = 1.0
    kl_weight: float = 1e-3
    penalty: Literal["l1", "kl"] = "l1"
    penalty_weight: float = 1e-5
    prior: Literal["fair", "marginal"] = "fair"  # default source of z for `difflab sample` (binary)
    flip: float = 0.0  # binary: P(flip) of each training bit; > 0 trains the decoder on codes' neighbours

    def validate(self) -> None:
        if self.kind == "none":
            return
        if self.dim < 1 or not self.channels or min(self.channels) < 1:
            raise DifflabError("encoder.dim and every encoder.channels entry must be >= 1")
        if self.tau <= 0 or self.kl_weight < 0 or self.penalty_weight < 0:
            raise DifflabError("encoder.tau must be > 0 and encoder.kl_weight / penalty_weight >= 0")
        if not 0 <= self.flip < 0.5:
            raise DifflabError(f"encoder.flip is a per-bit probability in [0, 0.5), got {self.flip}")


@dataclass
class RunConfig:
    """Everything needed to train and rebuild a model."""

    seed: int = 0
    data: DataConfig = field(default_factory=DataConfig)
    process: ProcessConfig = field(default_factory=ProcessConfig)
    network: NetworkConfig = field(default_factory=NetworkConfig)
    method: MethodConfig = field(default_factory=MethodConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    sample: SampleConfig = field(default_factory=SampleConfig)
    encoder: EncoderConfig = field(default_factory=EncoderConfig)
