"""The main job: train on the bundled digits, evaluate, and write a report.

It samples with several samplers and step counts and evaluates against the held-out split.

Everything lands in one run directory: ``config.yaml``, ``checkpoints/``,
``train_log.jsonl``, sample grids, ``metrics.json``, ``quality_vs_steps.png``,
``loss.png`` and ``report.md`` linking them.
"""

from pathlib import Path

from matplotlib.figure import Figure

from difflab.config import load_config
from difflab.config.schema import RunConfig
from difflab.io import read_jsonl
from difflab.models.run import LOG_NAME, load_run
from difflab.pipeline.evaluate import evaluate_run
from difflab.pipeline.run import train_run
from difflab.report import markdown_table, save_figure, write_report
from difflab.report.plots import diverged_points

# Kept equal to configs/digits.yaml (a test checks it), so the demo needs no file.
DEMO_CONFIG: dict = {
    "seed": 0,
    "data": {"name": "digits"},
    "process": {"basis": "pixel", "prior": "white", "schedule": "cosine"},
    "network": {
        "kind": "unet",
        "base_channels": 16,
        "channel_mults": [1, 2],
        "num_res_blocks": 1,
        "attention_levels": [1],
    },
    "method": {"kind": "regression", "prediction": "v"},
    "train": {
        "steps": 1500,
        "batch_size": 128,
        "lr": 2e-3,
        "warmup_steps": 100,
        "ema_decay": 0.995,
        "checkpoint_every": 500,
        "log_every": 50,
    },
    "sample": {"sampler": "dpmpp2m", "steps": 16, "n_eval": 500},
}
DEMO_SAMPLERS = ["ddim", "heun", "dpmpp2m"]
DEMO_STEPS = [4, 8, 16, 32]


def demo_config(overrides: list[str] = ()) -> RunConfig:
    return load_config(RunConfig, DEMO_CONFIG, overrides)


def plot_loss(run_dir: Path) -> Path | None:
    records = [r for r in read_jsonl(run_dir / LOG_NAME) if "loss" in r]
    if not records:
        return None
    fig = Figure(figsize=(5, 3))
    ax = fig.add_subplot()
    ax.plot([r["step"] for r in records], [r["loss"] for r in records])
    ax.set(xlabel="step", ylabel="training loss", yscale="log", title="training loss")
    return save_figure(fig, run_dir / "loss.png")


def run_demo(
    out: str | Path,
    *,
    overrides: list[str] = (),
    steps: list[int] | None = None,
    samplers: list[str] | None = None,
    progress: bool = True,
) -> Path:
    """Train (or resume), evaluate and report; returns the path of ``report.md``."""
    out = Path(out)
    cfg = demo_config(overrides)
    train_run(cfg, out, progress=progress)
    loaded = load_run(out)
    steps = steps or DEMO_STEPS
    samplers = samplers or DEMO_SAMPLERS
    results = evaluate_run(loaded, steps=steps, samplers=samplers, out_dir=out)
    plot_loss(out)
    metric = results["metric"]
    floor = results["floor"][metric]
    floor_text = "refused" if floor is None else f"{floor:.3f}"
    rows = [
        {"sampler": s, **{f"{k} steps": v[metric] for k, v in per.items()}} for s, per in results["samplers"].items()
    ]
    nfe_rows = [
        {"sampler": s, **{f"{k} steps": v["nfe"] for k, v in per.items()}} for s, per in results["samplers"].items()
    ]
    curves = {s: {int(k): v[metric] for k, v in per.items()} for s, per in results["samplers"].items()}
    diverged = sorted(diverged_points(curves))
    diverged_text = (
        "\n\nMarked, not plotted (diverged: more than 10× the median): "
        + ", ".join(f"{s} at {k} steps ({curves[s][k]:.4g})" for s, k in diverged)
        + ". Few steps of a second-order solver (Heun) can overshoot on a network trained briefly; "
        "compare samplers by network calls (table below), not by steps."
        if diverged
        else ""
    )
    grids = "\n".join(
        f"| {s} | " + " | ".join(f"![{s} {k}](samples_{s}_{k}.png)" for k in steps) + " |" for s in samplers
    )
    header = "| sampler | " + " | ".join(f"{k} steps" for k in steps) + " |\n|---|" + "---|" * len(steps)
    sections = [
        (
            "What ran",
            f"Trained `{cfg.network.kind}` on `{cfg.data.name}` for {loaded.step} steps "
            f"(basis `{cfg.process.basis}`, prior `{cfg.process.prior}`, schedule `{cfg.process.schedule}`, "
            f"`{cfg.method.prediction}`-prediction); config in [config.yaml](config.yaml), "
            f"weights in `checkpoints/`, training log in [{LOG_NAME}]({LOG_NAME}).",
        ),
        (
            "Quality versus steps",
            f"`{metric}` against the {results['n']}-sample held-out split "
            f"(lower is better); train-vs-test floor **{floor_text}**.\n\n"
            + markdown_table(rows, ["sampler"] + [f"{k} steps" for k in steps])
            + "\n\n![quality vs steps](quality_vs_steps.png)"
            + diverged_text
            + "\n\nNetwork calls per sample (NFE):\n\n"
            + markdown_table(nfe_rows, ["sampler"] + [f"{k} steps" for k in steps]),
        ),
        ("Samples", header + "\n" + grids),
        ("Training loss", "![loss](loss.png)"),
        (
            "All metrics",
            "Every metric (PCA-FD, MMD, sliced Wasserstein, spectrum error, memorisation, "
            "network calls, seconds) is in [metrics.json](metrics.json).",
        ),
    ]
    return write_report(out / "report.md", "difflab demo", sections)
