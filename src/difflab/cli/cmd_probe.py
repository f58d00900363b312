"""Probe trajectory representations: train mixers over several seeds; print mean ± std, write JSON and figures.

DIR_or_RUN is a folder written by ``difflab represent`` or a run directory
(then trajectories are extracted with the unet source into RUN/representations/).
"""

from pathlib import Path

HELP = "probe: difflab probe DIR_or_RUN --mixer attention,gru,concat,single --seeds 5"


def add_arguments(p):
    p.add_argument("source", help="representation folder (difflab represent --out) or run directory")
    p.add_argument(
        "--mixer",
        default="single,concat,gru,attention",
        help="comma-separated: single | single-mlp | concat | gru | attention",
    )
    p.add_argument("--seeds", type=int, default=5, help="number of seeds (0..N-1)")
    p.add_argument("--epochs", type=int, default=100)
    p.add_argument("--patience", type=int, default=15)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--times", default="10", help="when SOURCE is a run: k or comma-separated times")
    p.add_argument("--out", default=None, help="results JSON (default: SOURCE/probe.json); figures beside it")


def _trajectories(source: Path, times: str):
    from difflab.representations import load_trajectories, parse_times, represent, require_trajectories

    if load_trajectories(source) is not None:
        return require_trajectories(source), source
    if (source / "config.yaml").exists() or (source / "meta.json").exists():
        folder = source / "representations" / f"unet_k{times.replace(',', '_')}"
        return represent(source, times=parse_times(times), out=folder, progress=True), folder
    return require_trajectories(source), source  # raises with a clear message


def run(args):
    from difflab.cli.common import str_list
    from difflab.errors import DifflabError
    from difflab.io import atomic_write_json
    from difflab.representations import ProbeConfig, best_single, plot_accuracy_vs_t, plot_attention, run_study

    if args.seeds < 1:
        raise DifflabError(f"--seeds must be >= 1, got {args.seeds}")
    traj, folder = _trajectories(Path(args.source), args.times)
    cfg = ProbeConfig(epochs=args.epochs, patience=args.patience, lr=args.lr)
    study = run_study(traj, str_list(args.mixer), list(range(args.seeds)), config=cfg, progress=True)
    study["trajectories"] = str(folder)
    out = Path(args.out) if args.out else folder / "probe.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_json(out, study)
    best = best_single(study)
    if best is not None:
        print(f"best single time: {best['kind']} t={best['t']:.3f}: {best['mean']:.4f} ± {best['std']:.4f}")
    for kind, r in study["mixers"].items():
        print(f"{kind}: {r['mean']:.4f} ± {r['std']:.4f}")
    figs = [plot_accuracy_vs_t(study, out.with_name(out.stem + "_acc_vs_t.png"))]
    figs.append(plot_attention(study, out.with_name(out.stem + "_attention.png")))
    print(f"results in {out}; figures: {', '.join(str(f) for f in figs if f is not None)}")
