"""Pretrained diffusers checkpoints in and out: ``difflab import``, ``load_run(DIR)``, ``export --format diffusers``.

Import reads a diffusers folder — a pipeline folder (``model_index.json``, ``unet/``, ``scheduler/``) or a
bare model folder (``config.json`` + ``scheduler_config.json``) — into a difflab model: the network is the
``UNet2DModel`` behind :class:`~difflab.nn.adapters.DiffusersAdapter`, the process is the pixel basis with a
white prior and the checkpoint's own β table (:class:`~difflab.process.schedules.discrete.DiscreteSchedule`),
and ``prediction_type`` maps to difflab's parameterisation (epsilon → eps, v_prediction → v, sample → x0;
diffusers' v is α ε − σ x₀, difflab's ``Process.v_target``). Only safetensors weights are read.

Export writes the other way: a run whose network is a ``UNet2DModel`` (``network.kind: diffusers``) on the
pixel basis with a white prior and a scalar schedule becomes ``unet/`` + ``scheduler/`` (a ``DDPMScheduler``
with ``trained_betas`` read off the run's γ at the table points t = (k + 1)/T) + ``model_index.json``, which
``DDPMPipeline.from_pretrained`` loads.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

import safetensors
import safetensors.torch
import torch
from torch import Tensor

from difflab.config import load_config
from difflab.config.schema import RunConfig
from difflab.errors import DifflabError
from difflab.io.atomic import atomic_write_text
from difflab.models.build import DataInfo, build_denoiser, load_weights
from difflab.models.denoiser import Denoiser
from difflab.process.schedules.discrete import beta_table, time_of

# Schedulers of variance-preserving DDPMs: each carries the β table fields difflab reads.
SCHEDULERS = (
    "DDPMScheduler",
    "DDIMScheduler",
    "PNDMScheduler",
    "DPMSolverMultistepScheduler",
    "DPMSolverSinglestepScheduler",
    "EulerDiscreteScheduler",
    "EulerAncestralDiscreteScheduler",
    "HeunDiscreteScheduler",
    "LMSDiscreteScheduler",
    "UniPCMultistepScheduler",
    "DEISMultistepScheduler",
)
MODEL_CLASSES = ("UNet2DModel",)
PREDICTIONS = {"epsilon": "eps", "v_prediction": "v", "sample": "x0"}
WEIGHTS = "diffusion_pytorch_model.safetensors"
_PICKLES = ("*.bin", "*.pt", "*.pth", "*.ckpt", "*.pkl")


def is_diffusers_folder(path: str | Path) -> bool:
    """True for a diffusers pipeline folder or a bare diffusers model folder (not a difflab run)."""
    path = Path(path)
    return (path / "model_index.json").is_file() or (
        (path / "config.json").is_file() and not (path / "config.yaml").exists()
    )


def _read_json(path: Path, what: str) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise DifflabError(f"{path.parent} has no {path.name} ({what}); is it a diffusers folder?") from None
    except json.JSONDecodeError as exc:
        raise DifflabError(f"{path} is not valid JSON ({exc.msg}, line {exc.lineno})") from None
    if not isinstance(data, dict):
        raise DifflabError(f"{path} must hold a JSON object")
    return data


def _locate(path: Path) -> tuple[Path, Path]:
    """(model folder, scheduler config file) of a pipeline or bare model folder."""
    if not path.is_dir():
        raise DifflabError(f"diffusers folder not found: {path}")
    if (path / "model_index.json").is_file():
        index = _read_json(path / "model_index.json", "the pipeline index")
        for part in ("unet", "scheduler"):
            if part not in index:
                raise DifflabError(f"{path}/model_index.json names no {part!r}; difflab imports UNet pipelines")
        return path / "unet", path / "scheduler" / "scheduler_config.json"
    for sched in (path / "scheduler_config.json", path.parent / "scheduler" / "scheduler_config.json"):
        if sched.is_file():
            return path, sched
    raise DifflabError(
        f"{path} holds a model but no scheduler_config.json (next to config.json or in ../scheduler/); "
        "difflab needs the β table the model was trained with"
    )


def scheduler_table(sched: dict[str, Any], source: str) -> tuple[dict[str, Any], str]:
    """The discrete schedule's options and difflab's prediction name from a scheduler config.

    Legacy keys real Hub checkpoints still carry are handled as diffusers handled them: ``predict_epsilon``
    (before ``prediction_type``: True = epsilon, False = sample); ``tensor_format`` and ``timestep_values``
    are ignored; a missing ``prediction_type`` is epsilon, a missing β field diffusers' default.
    """
    cls = sched.get("_class_name", "DDPMScheduler")
    if cls not in SCHEDULERS:
        raise DifflabError(
            f"{source}: unsupported scheduler {cls!r}; difflab reads the β table of {', '.join(SCHEDULERS[:4])}, ..."
        )
    if "prediction_type" in sched:
        ptype = sched["prediction_type"]
    elif "predict_epsilon" in sched:  # diffusers < 0.9
        ptype = "epsilon" if sched["predict_epsilon"] else "sample"
    else:
        ptype = "epsilon"
    if ptype not in PREDICTIONS:
        raise DifflabError(f"{source}: unknown prediction_type {ptype!r}; difflab maps {', '.join(PREDICTIONS)}")
    if sched.get("rescale_betas_zero_snr"):
        raise DifflabError(f"{source}: rescale_betas_zero_snr makes ᾱ_T = 0 (infinite γ); difflab cannot import it")
    table = dict(
        num_train_timesteps=int(sched.get("num_train_timesteps", 1000)),
        beta_schedule=str(sched.get("beta_schedule", "linear")),
        beta_start=float(sched.get("beta_start", 1e-4)),
        beta_end=float(sched.get("beta_end", 0.02)),
        trained_betas=None if sched.get("trained_betas") is None else [float(b) for b in sched["trained_betas"]],
    )
    beta_table(**table)  # validates the schedule name, the length and the range now, in one line
    return table, PREDICTIONS[ptype]


def _weights(model_dir: Path) -> dict[str, Tensor]:
    """The model's safetensors weights (one file or an index of shards); pickles are refused."""
    files = sorted(model_dir.glob("*.safetensors"))
    index = model_dir / f"{WEIGHTS}.index.json"
    if index.is_file():
        shards = sorted(set(_read_json(index, "the shard index").get("weight_map", {}).values()))
        files = [model_dir / s for s in shards]
    elif (model_dir / WEIGHTS).is_file():
        files = [model_dir / WEIGHTS]
    elif len(files) > 1:  # variants (fp16, ...) without the plain file: ambiguous
        names = ", ".join(f.name for f in files)
        raise DifflabError(f"{model_dir} holds several safetensors files ({names}) and no {WEIGHTS}; keep one")
    if not files:
        pickles = [p.name for pat in _PICKLES for p in model_dir.glob(pat)]
        if pickles:
            raise DifflabError(
                f"{model_dir} holds only pickled weights ({', '.join(sorted(pickles))}), which difflab never loads; "
                f'convert them once where you trust the file: python -c "from diffusers import UNet2DModel; '
                f"UNet2DModel.from_pretrained('{model_dir}', use_safetensors=False).save_pretrained('{model_dir}')\""
            )
        raise DifflabError(f"{model_dir} holds no weights (expected {WEIGHTS})")
    state: dict[str, Tensor] = {}
    for f in files:
        try:
            state.update(safetensors.torch.load_file(str(f)))
        except (OSError, safetensors.SafetensorError) as exc:
            raise DifflabError(f"cannot read {f}: {exc}") from None
    return state


# diffusers' defaults for the x̂₀ options, per scheduler class (DDPM and DDIM clip unless told otherwise).
CLIPS_BY_DEFAULT = ("DDPMScheduler", "DDIMScheduler")


def x0_processing(sched: dict[str, Any]) -> dict[str, Any]:
    """The scheduler config's x̂₀ clipping and dynamic thresholding as difflab ``sample`` options."""
    out: dict[str, Any] = {}
    if bool(sched.get("clip_sample", sched.get("_class_name", "DDPMScheduler") in CLIPS_BY_DEFAULT)):
        out["clip_x0"] = float(sched.get("clip_sample_range", 1.0))
    if bool(sched.get("thresholding", False)):
        out["dynamic_threshold"] = float(sched.get("dynamic_thresholding_ratio", 0.995))
        out["threshold_max"] = float(sched.get("sample_max_value", 1.0))
    return out


def read_diffusers(
    path: str | Path, data_info: DataInfo | None = None
) -> tuple[RunConfig, DataInfo, dict[str, Tensor], dict[str, Any]]:
    """Read a diffusers folder into (run config, data info, difflab state dict, meta about the source).

    Args:
        path: pipeline or bare model folder.
        data_info: the dataset whose normaliser decodes samples (``--data``); ``None``: the model's own
            range, [-1, 1], under the name ``diffusers``.

    Raises:
        DifflabError: missing or pickled weights, an unsupported model class, scheduler or prediction type,
            weights that do not match the config, or data that does not match the model's shape.
    """
    path = Path(path)
    model_dir, sched_file = _locate(path)
    unet_cfg = _read_json(model_dir / "config.json", "the model config")
    cls = unet_cfg.get("_class_name")
    if cls not in MODEL_CLASSES:
        raise DifflabError(f"{model_dir}: unsupported model class {cls!r}; difflab imports {', '.join(MODEL_CLASSES)}")
    sched = _read_json(sched_file, "the scheduler config")
    table, prediction = scheduler_table(sched, str(sched_file))
    state = _weights(model_dir)
    size = unet_cfg.get("sample_size", 32)
    size = size if isinstance(size, int) else int(size[0])
    shape = (int(unet_cfg.get("in_channels", 3)), size, size)
    if int(unet_cfg.get("out_channels", shape[0])) != shape[0]:
        raise DifflabError(f"{model_dir}: out_channels differs from in_channels; not a denoiser of its input")
    num_classes = int(unet_cfg.get("num_class_embeds") or 0)
    if data_info is None:
        data_info = DataInfo("diffusers", shape, num_classes, {"shift": 0.0, "scale": 1.0, "value_range": [-1.0, 1.0]})
        # No dataset: commands that need one (evaluate, ablate, shortcuts) fail in one line that says what to do.
        data = {"name": "npy", "options": {"path": "(imported without --data: re-import with --data NAME)"}}
    else:
        if tuple(data_info.shape) != shape:
            raise DifflabError(f"--data gives examples shaped {tuple(data_info.shape)}; the model takes {shape}")
        data_info = DataInfo(data_info.name, shape, num_classes, data_info.normaliser)
        data = {"name": data_info.name, "options": {}}
    unet = {k: v for k, v in unet_cfg.items() if not k.startswith("_")}
    spacing = sched.get("timestep_spacing", "leading")
    sample = {"grid": spacing if spacing in ("leading", "trailing", "linspace") else "leading"}
    sample.update(x0_processing(sched))
    cfg = load_config(
        RunConfig,
        {
            "data": data,
            "process": {"basis": "pixel", "prior": "white", "schedule": "discrete", **table},
            "network": {"kind": "diffusers", "class_conditional": num_classes > 0, "diffusers": unet},
            "method": {"kind": "regression", "prediction": prediction},
            # sample on the timesteps the model was trained at, spaced as its scheduler spaces them, with
            # the scheduler's own x̂₀ clipping / dynamic thresholding
            "sample": sample,
        },
    )
    denoiser = build_denoiser(cfg, data_info, None)
    # Attention weights saved before diffusers 0.14 (query/key/value/proj_attn) get today's names, as
    # diffusers' own from_pretrained renames them.
    state = denoiser.network.unet._fix_state_dict_keys_on_load(dict(state))
    full = {f"network.unet.{k}": v for k, v in state.items()}
    own = denoiser.state_dict()
    full.update({k: v for k, v in own.items() if k.startswith("process.")})  # the β table, from the config
    load_weights(denoiser, full, str(model_dir))  # mismatched weights: one line
    meta = {
        "source": str(path),
        "scheduler": sched.get("_class_name", "DDPMScheduler"),
        "clip_sample": sample.get("clip_x0") is not None,
        "timestep_spacing": sched.get("timestep_spacing", "leading"),
        "steps_offset": int(sched.get("steps_offset", 0)),
    }
    return cfg, data_info, denoiser.state_dict(), meta


def load_diffusers(path: str | Path, data_info: DataInfo | None = None) -> tuple[RunConfig, DataInfo, Denoiser]:
    """A ready denoiser straight from a diffusers folder (what ``load_run(DIR)`` uses)."""
    cfg, info, state, _ = read_diffusers(path, data_info)
    denoiser = build_denoiser(cfg, info, None)
    denoiser.load_state_dict(state)
    return cfg, info, denoiser.eval()


# ------------------------------------------------------------------------------------------------ export


def export_reason(cfg: RunConfig) -> str | None:
    """Why diffusers cannot express this run, in a phrase; ``None`` when it can."""
    p = cfg.process
    if cfg.network.kind != "diffusers":
        return f"its network is difflab's {cfg.network.kind!r}, not a UNet2DModel (train with network.kind: diffusers)"
    if p.basis != "pixel":
        return f"it diffuses in the {p.basis!r} basis; diffusers' schedulers noise pixels"
    if p.prior != "white":
        return f"its prior is {p.prior!r}; diffusers' schedulers start from N(0, I)"
    if p.schedule in ("soft", "sequential"):
        return f"its {p.schedule!r} schedule is component-wise; a diffusers scheduler has one β per timestep"
    if cfg.method.kind != "regression":
        return "it is a distributional generator; diffusers' schedulers take ε, v or x₀ predictions"
    return None


def export_diffusers(cfg: RunConfig, info: DataInfo, denoiser: Denoiser, out: str | Path) -> Path:
    """Write ``out/`` as a diffusers ``DDPMPipeline`` folder (atomically: built aside, renamed into place).

    Raises:
        DifflabError: a run diffusers cannot express (see :func:`export_reason`), or ``out`` exists.
    """
    reason = export_reason(cfg)
    if reason is not None:
        raise DifflabError(f"cannot export to diffusers: {reason}")
    out = Path(out)
    if out.exists():
        raise DifflabError(f"{out} already exists; export into a fresh folder")
    unet = denoiser.network.unet
    T = cfg.process.num_train_timesteps
    gamma = denoiser.process.schedule.gamma(time_of(torch.arange(T), T))[:, 0]
    alphas_cumprod = torch.sigmoid(-gamma)  # ᾱ_k at the table points, float64
    betas = 1 - alphas_cumprod / torch.cat([torch.ones(1, dtype=torch.float64), alphas_cumprod[:-1]])
    prediction = {v: k for k, v in PREDICTIONS.items()}[cfg.method.prediction]
    scheduler = {
        "_class_name": "DDPMScheduler",
        "num_train_timesteps": T,
        "trained_betas": betas.tolist(),
        "prediction_type": prediction,
        "clip_sample": False,
        "variance_type": "fixed_small",
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".tmp_{out.name}_"))
    try:
        unet.save_pretrained(tmp / "unet", safe_serialization=True)
        (tmp / "scheduler").mkdir()
        atomic_write_text(tmp / "scheduler" / "scheduler_config.json", json.dumps(scheduler, indent=2))
        index = {"_class_name": "DDPMPipeline", "unet": ["diffusers", "UNet2DModel"]}
        index["scheduler"] = ["diffusers", "DDPMScheduler"]
        atomic_write_text(tmp / "model_index.json", json.dumps(index, indent=2))
        tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out
