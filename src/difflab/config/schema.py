"""The run config: one dataclass tree that a YAML file and ``key=value`` overrides fill.

Every numeric field declares its allowed range where it is declared (``bounded(default, ge=..., le=...)``,
:mod:`difflab.utils.bounds`); the loader checks them all and refuses NaN/Inf everywhere.

The resolved config is written next to every checkpoint; a checkpoint plus its
config rebuilds the model with no other input (see :mod:`difflab.models.build`).
"""

import math
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from difflab.data.registry import check_dataset_name
from difflab.errors import DifflabError
from difflab.process.options import ProcessOptions
from difflab.sampling.registry import GridName, SamplerName, options_of
from difflab.utils.bounds import bounded

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
    # folder / npy images: read the training split per batch through a torch DataLoader (data/stream.py)
    # instead of one tensor: never, always, or auto (when the float32 training split is over stream_above_mb MiB)
    stream: Literal["auto", "never", "always"] = "auto"
    stream_above_mb: float = bounded(2048.0, ge=0, le=1e9)
    num_workers: int = bounded(2, ge=0, le=256)  # DataLoader worker processes of a streamed training set
    hflip: bool = False  # mirror each training image left-right with probability 1/2
    # discrete data (a grid step in the dataset's meta): add U(-1/2, 1/2) grid steps to every training example, so the
    # model learns the dequantised density that bits/dim scores (Theis et al. 2016; Ho et al. 2019)
    dequantise: bool = False

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
    base_channels: int = bounded(32, ge=1, le=4096)
    channel_mults: list[int] = bounded(default_factory=lambda: [1, 2], ge=1, le=64)  # per item
    num_res_blocks: int = bounded(1, ge=1, le=64)
    attention_levels: list[int] = bounded(default_factory=lambda: [1], ge=0, le=64)  # per item
    dropout: float = bounded(0.0, ge=0, lt=1)
    hidden: int = bounded(256, ge=1, le=65536)  # mlp
    depth: int = bounded(4, ge=1, le=1024)  # mlp
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
    # eps_gud: GUD's tutorial recipe, ε̂ = S⁻¹ U net + w_t ("Gaussian default" residual), ε-MSE averaged
    # over components (models/denoiser.py::Denoiser.output_to_white)
    prediction: Literal["eps", "x0", "v", "eps_gud"] = "v"
    # regression: how the per-example squared error is reduced over the D whitened components.
    # "sum": D times the MSE, so on digits grad_clip = 1 clips (normalises) every step; "mean" (the MSE,
    # diffusers' loss): grad_clip acts on outliers only. "auto" = "sum", and "mean" for eps_gud (GUD's
    # ε-MSE). They tie on the digits demo (BENCHMARKS.md, "Demo recipe ablation"; docs/process.md).
    loss_reduction: Literal["auto", "sum", "mean"] = "auto"
    m: int = bounded(8, ge=1, le=4096)
    lam: float = bounded(1.0, ge=0, le=1)
    beta: float = bounded(1.0, gt=0, le=2)
    rule: Literal["energy", "kernel"] = "energy"
    kernel: Literal["rbf", "imq", "exp"] = "rbf"  # exp: the paper's kernel that is not diffusion-compatible
    bandwidth: float | None = bounded(None, gt=0, le=1e6)
    noise_injection: Literal["concat", "gated"] = "concat"
    # distributional (objectives/scoring.py): conditional = the paper's loss (m draws per x_t against
    # its x₀); joint = energy score of (x̂₀, x_t, t) pairs across the batch; marginal = pooled draws vs
    # pooled data (does not identify p(x₀|x_t): a control). joint/marginal need rule=energy.
    loss_form: Literal["conditional", "joint", "marginal"] = "conditional"
    # distributional: w(t) per example; snr_plus_one = α²/σ² + 1, the x₀-weight of the v-MSE, so that
    # λ = 0, β = 2 is the v-prediction regression loss (objectives/distributional.py)
    time_weight: Literal["none", "snr_plus_one"] = "none"
    # distributional: the norm of the score in whitened components w = S⁻¹Ux (as the process) or in
    # data layout (the paper's); equal for an orthonormal basis with the white prior
    energy_space: Literal["white", "data"] = "white"

    def validate(self) -> None:
        if self.kind != "regression" and self.loss_reduction != "auto":
            raise DifflabError(f"method.loss_reduction applies to method.kind=regression, not {self.kind!r}; drop it")
        defaults = {"loss_form": "conditional", "time_weight": "none", "energy_space": "white"}
        if self.kind != "distributional":
            for name, default in defaults.items():
                if getattr(self, name) != default:
                    raise DifflabError(
                        f"method.{name} applies to method.kind=distributional, not {self.kind!r}; drop it"
                    )
        if self.kind == "distributional":
            if self.loss_form != "conditional" and self.rule != "energy":
                raise DifflabError(f"method.loss_form={self.loss_form} is an energy loss; set method.rule=energy")
            if self.m < 2 and self.lam > 0 and self.loss_form == "conditional":
                raise DifflabError("method.m must be >= 2 for a distributional model with method.lam > 0")
            if not 0 < self.beta <= 2:
                raise DifflabError(f"method.beta must be in (0, 2], got {self.beta}")
            if not 0 <= self.lam <= 1:
                raise DifflabError(f"method.lam must be in [0, 1], got {self.lam}")


@dataclass
class TrainConfig:
    """Optimisation, checkpointing and device."""

    steps: int = bounded(2000, ge=1, le=10**9)
    batch_size: int = bounded(128, ge=1, le=2**20)
    lr: float = bounded(2e-3, gt=0, le=10)
    weight_decay: float = bounded(0.0, ge=0, le=100)
    warmup_steps: int = bounded(100, ge=0, le=10**9)
    # after the warm-up: keep lr, or decay it to lr_min_ratio × lr at train.steps (training/lr.py)
    lr_schedule: Literal["constant", "cosine", "linear"] = "constant"
    lr_min_ratio: float = bounded(0.0, ge=0, le=1)
    # t for each training example (objectives/weighting.py): stratified uniform, or EDM's ln ν ~ N(p_mean, p_std²)
    time_sampling: Literal["uniform", "lognormal"] = "uniform"
    p_mean: float = bounded(-1.2, ge=-20, le=20)
    p_std: float = bounded(1.2, gt=0, le=20)
    # per-component weight of the regression MSE: none, or Min-SNR-γ (Hang et al. 2023) with min_snr_gamma
    loss_weight: Literal["none", "min_snr"] = "none"
    min_snr_gamma: float = bounded(5.0, gt=0, le=1e6)
    grad_clip: float = bounded(1.0, ge=0, le=1e12)  # 0 = no clipping
    grad_accum: int = bounded(1, ge=1, le=2**16)
    ema_decay: float = bounded(0.999, ge=0, lt=1)
    checkpoint_every: int = bounded(1000, ge=1, le=10**9)
    keep_last: int = bounded(2, ge=1, le=10**6)
    log_every: int = bounded(50, ge=1, le=10**9)
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    # autocast on CUDA only (CPU always fp32); fp16 adds a GradScaler and is what bf16 becomes on a GPU without bf16
    precision: Literal["fp32", "bf16", "fp16"] = "bf16"
    compile: bool = False  # torch.compile the training step's model + loss (opt-in: compiling costs time up front)
    channels_last: bool = False  # image models: weights and batches in channels-last memory format
    label_dropout: float = bounded(0.0, ge=0, le=1)  # drop class labels for classifier-free guidance
    # the JSONL log (train.jsonl) is always written; tensorboard adds event files (pip install 'difflab[tensorboard]')
    logger: Literal["jsonl", "tensorboard"] = "jsonl"
    tensorboard_dir: str | None = None  # event-file folder; None: <run>/tensorboard
    time_limit: float = bounded(0.0, ge=0, le=1e9)  # seconds; > 0 stops (with a checkpoint) at the first step past it
    # every eval_every steps (0 = never): eval_n EMA samples -> a PNG grid in <run>/samples/ and the sliced
    # Wasserstein-1 distance to the test split in <run>/eval_log.jsonl (and TensorBoard); training/evaluation.py
    eval_every: int = bounded(0, ge=0, le=10**9)
    eval_n: int = bounded(256, ge=2, le=10**6)
    eval_steps: int = bounded(0, ge=0, le=100_000)  # sampler steps of an evaluation; 0: sample.steps
    keep_best: bool = False  # keep the checkpoint with the lowest evaluation metric in <run>/best/ (needs eval_every)

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
        if self.keep_best and self.eval_every < 1:
            raise DifflabError("train.keep_best keeps the best evaluated checkpoint; set train.eval_every=N too")


@dataclass
class SampleConfig:
    """Defaults for ``sample`` and ``evaluate``.

    ``eta``, ``churn``, ``variance``, ``heun_form`` and ``s_*`` are sampler options: each goes to the
    sampler whose signature takes it (``eta``: ddim, ``churn``: distributional, ``variance``: ddpm,
    ``heun_form``/``s_*``: heun) when the command line does not set it. ``eta`` is the DDIM paper's η
    (noise = η × the posterior std, as diffusers), ``churn`` the distributional paper's ε.
    """

    sampler: SamplerName = "ddim"
    steps: int = bounded(32, ge=1, le=100_000)
    grid: GridName = "uniform"
    eta: float = bounded(0.0, ge=0, le=1)  # ddim: DDIM η in [0, 1] (0 = DDIM, 1 = DDPM posterior)
    churn: float = bounded(0.0, ge=0, le=1)  # distributional sampler: 0 = DDIM bridge, 1 = DDPM posterior
    variance: Literal["fixed_small", "fixed_large"] = "fixed_small"  # ddpm: posterior variance or β_t
    heun_form: Literal["exponential", "edm"] = "exponential"  # heun: corrector (see sampling/heun.py)
    s_churn: float = bounded(0.0, ge=0, le=1e6)  # heun: EDM stochastic churn (Karras et al. Algorithm 2)
    s_tmin: float = bounded(0.0, ge=0, allow_inf=True)  # churn window in noise level ν = σ/α
    s_tmax: float = bounded(math.inf, ge=0, allow_inf=True)
    s_noise: float = bounded(1.0, gt=0, le=10)
    # x̂₀ post-processing for every sampler (sampling/x0.py); an imported diffusers config sets these
    clip_x0: float | None = bounded(None, gt=0)  # clamp x̂₀ to [-clip_x0, clip_x0] (diffusers clip_sample_range)
    dynamic_threshold: float | None = bounded(None, gt=0, le=1)  # Imagen percentile ratio, e.g. 0.995
    threshold_max: float = bounded(1.0, gt=0)  # diffusers sample_max_value
    n_eval: int = bounded(1000, ge=1, le=10**7)
    batch_size: int = bounded(500, ge=1, le=2**20)

    def options_for(self, sampler: str) -> dict[str, Any]:
        """This section's values of ``sampler``'s own options (those its signature takes)."""
        return {k: getattr(self, k) for k in options_of(sampler) if hasattr(self, k)}


@dataclass
class EncoderConfig:
    """A code z = E(x₀) that conditions the denoiser (DMZ, arXiv 2506.00136; DRL, Abstreiter et al.).

    ``none``: a plain model. ``binary``: d bits through Gumbel-softmax, trained by the
    denoising loss alone. ``gaussian``: a reparameterised N(μ, σ²) code with
    ``kl_weight`` × KL to N(0, I). ``drl``: a time-conditioned encoder E(x₀, t)
    with ``penalty_weight`` × L1 (``reg-drl``) or KL (``probabilistic-drl``) on the code;
    ``time_conditioning``: ``film`` (one FiLM after the trunk) or ``blocks`` (t in every residual
    block, as in Mittal et al., arXiv 2210.13774). ``z_mode``: ``time_bottleneck`` feeds z to the
    time embedding *and* as a feature map at the UNet bottleneck (the paper's DRL score network).
    ``channels``: the stride-2 conv stack; ``norm``: GroupNorm (per-sample, deterministic, DDP-safe)
    or BatchNorm (as in the paper). The DMZ paper's recipe is ``norm: batch``, ``null_token: false``,
    ``flip: 0`` (configs/digits-dmz-paper.yaml).
    """

    kind: Literal["none", "binary", "gaussian", "drl"] = "none"
    dim: int = bounded(16, ge=1, le=4096)
    z_mode: Literal["cross_attn", "adagn", "time", "time_bottleneck"] = "cross_attn"
    # attention levels that cross-attend to z (None: all)
    z_levels: list[int] | None = bounded(None, ge=0, le=64)
    # cross_attn: a learned null token beside z (ours; the softmax then has two entries) or z alone (the paper)
    null_token: bool = True
    channels: list[int] = bounded(default_factory=lambda: [32, 64], ge=1, le=4096)  # per item
    norm: Literal["group", "batch"] = "group"
    tau: float = bounded(1.0, gt=0, le=1e6)
    kl_weight: float = bounded(1e-3, ge=0, le=1e6)
    penalty: Literal["l1", "kl"] = "l1"
    time_conditioning: Literal["film", "blocks"] = "film"  # drl: FiLM after the trunk or t in every block
    penalty_weight: float = bounded(1e-5, ge=0, le=1e6)
    # default source of z for `difflab sample` (binary): fair bits, per-bit marginals, the learned
    # prior of `difflab fit-prior`, or codes of training data
    prior: Literal["fair", "marginal", "prior", "data"] = "fair"
    # binary: P(flip) of each training bit; > 0 trains the decoder on codes' neighbours
    flip: float = bounded(0.0, ge=0, lt=0.5)

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
    """Everything needed to train and rebuild a model.

    An override that changes ``data.name`` drops the ``data.options`` the source config gave the
    old dataset (options given in the overrides are kept): ``configs/toy2d.yaml data.name=npy
    data.options.path=x.npy`` needs no ``which`` removed by hand.
    """

    # key -> section dropped from the source when an override changes the key (see difflab.config.loader).
    RESET_ON_CHANGE: ClassVar[dict[str, str]] = {"data.name": "data.options"}

    seed: int = bounded(0, ge=0, le=2**32 - 1)
    data: DataConfig = field(default_factory=DataConfig)
    process: ProcessConfig = field(default_factory=ProcessConfig)
    network: NetworkConfig = field(default_factory=NetworkConfig)
    method: MethodConfig = field(default_factory=MethodConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    sample: SampleConfig = field(default_factory=SampleConfig)
    encoder: EncoderConfig = field(default_factory=EncoderConfig)

    def validate(self) -> None:
        if self.train.loss_weight == "min_snr" and self.method.kind != "regression":
            raise DifflabError(
                f"train.loss_weight=min_snr weights a regression MSE; method.kind={self.method.kind} has none "
                "(use train.loss_weight=none)"
            )
