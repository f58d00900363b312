"""Probe trajectory representations: train mixers over several seeds; print mean ± std, write JSON and figures.

DIR_or_RUN is a folder written by ``difflab represent`` or a run directory
(then trajectories are extracted with the unet source into RUN/representations/).
"""

from pathlib import Path

from difflab.cli.common import add_device_argument, positive_int

HELP = "probe: difflab probe DIR_or_RUN --mixer attention,gru,concat,single --seeds 5 [--protocol paper|quick]"


def add_arguments(p):
    p.add_argument("source", help="representation folder (difflab represent --out) or run directory")
    p.add_argument(
        "--mixer",
        default="single,concat,gru,attention",
        help="comma-separated: single | single-mlp | concat | gru | attention",
    )
    p.add_argument(
        "--protocol",
        default="paper",
        choices=["paper", "quick"],
        help="paper: Mittal et al.'s (lr sweep chosen on validation, batch 256, clip 1.0, dropout 0.25, "
        "best-validation epoch of 100); quick: lr 1e-3, batch 128, standardised features, early stopping",
    )
    p.add_argument("--seeds", type=positive_int, default=5, help="number of seeds (0..N-1); mean ± std over them")
    p.add_argument("--epochs", type=positive_int, default=100, help="epochs per probe (the budget)")
    p.add_argument(
        "--patience",
        type=positive_int,
        default=None,
        help="early stopping after this many epochs without improvement (default: none for paper, 15 for quick)",
    )
    p.add_argument(
        "--lr",
        default=None,
        help="learning rate(s), comma-separated; several are a sweep chosen on validation "
        "(default: 1e-3,7.5e-4,5e-4,2.5e-4,1e-4,5e-5 for paper, 1e-3 for quick)",
    )
    p.add_argument("--width", type=positive_int, default=256, help="hidden size of the GRU and attention mixers")
    p.add_argument("--times", default="10", help="when SOURCE is a run: k or comma-separated times")
    add_device_argument(p)
    p.add_argument("--out", default=None, help="results JSON (default: SOURCE/probe.json); figures beside it")


def _trajectories(source: Path, times: str, device: str = "cpu"):
    from difflab.representations import load_trajectories, parse_times, represent, require_trajectories

    if load_trajectories(source) is not None:
        return require_trajectories(source), source
    if (source / "config.yaml").exists() or (source / "meta.json").exists():
        folder = source / "representations" / f"unet_k{times.replace(',', '_')}"
        return represent(source, times=parse_times(times), out=folder, progress=True, device=device), folder
    return require_trajectories(source), source  # raises with a clear message


def _rates(text: str) -> tuple[float, ...]:
    from difflab.errors import DifflabError

    try:
        rates = tuple(float(v) for v in text.split(",") if v.strip())
    except ValueError:
        rates = ()
    if not rates or any(not r > 0 for r in rates):
        raise DifflabError(f"--lr takes positive learning rates, comma-separated, got {text!r}")
    return rates


def run(args):
    from dataclasses import asdict

    from difflab.cli.common import str_list
    from difflab.errors import DifflabError
    from difflab.io import atomic_write_json
    from difflab.representations import best_single, plot_accuracy_vs_t, plot_attention, probe_protocol, run_study

    if args.seeds < 1:
        raise DifflabError(f"--seeds must be >= 1, got {args.seeds}")
    from difflab.utils.device import pick_device

    device = str(pick_device(args.device))
    traj, folder = _trajectories(Path(args.source), args.times, device)
    overrides = {"epochs": args.epochs, "device": device}
    if args.patience is not None:
        overrides["patience"] = args.patience
    if args.lr is not None:
        overrides["lrs"] = _rates(args.lr)
    cfg = probe_protocol(args.protocol, **overrides)
    mixers, seeds = str_list(args.mixer), list(range(args.seeds))
    study = run_study(traj, mixers, seeds, config=cfg, progress=True, width=args.width)
    study["protocol"] = {"name": args.protocol, **{k: v for k, v in asdict(cfg).items() if k != "device"}}
    study["trajectories"] = str(folder)
    out = Path(args.out) if args.out else folder / "probe.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_json(out, study)
    best = best_single(study)
    if best is not None:
        print(
            f"best single time (chosen on validation): {best['kind']} t={best['t']:.3f}: "
            f"test accuracy {best['mean']:.4f} ± {best['std']:.4f}"
        )
    for kind, r in study["mixers"].items():
        print(f"{kind}: test accuracy {r['mean']:.4f} ± {r['std']:.4f} over {args.seeds} seeds (lr {r['lr']:g})")
    if study["skipped"]:
        print(f"skipped (one time only): {', '.join(study['skipped'])}")
    figs = [plot_accuracy_vs_t(study, out.with_name(out.stem + "_acc_vs_t.png"))]
    figs.append(plot_attention(study, out.with_name(out.stem + "_attention.png")))
    print(f"results in {out}; figures: {', '.join(str(f) for f in figs if f is not None)}")
