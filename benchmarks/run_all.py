"""Run the CPU benchmarks and write their markdown tables into one folder (what ``make bench`` runs).

Each benchmark is its own script, run here as a subprocess with the settings
BENCHMARKS.md quotes; its output (a header line and a markdown table) is shown
as it comes and saved as ``OUT/<name>.md``, and ``OUT/index.md`` collects all
of them with the command that produced each:

- ``bases``: ``bench_bases.py``, basis transforms against one UNet forward pass;
- ``training``: ``bench_training.py``, training/sampling throughput against
  ``diffusers.UNet2DModel`` (skipped when diffusers is not installed);
- ``shortcuts``: ``bench_shortcuts.py``, DeepCache-style shortcut schedules on
  a trained run: the one given by ``--shortcuts-run``, else a small digits run
  trained here with ``--train-run``, else ``runs/demo`` if ``make demo`` made it;
  otherwise it is skipped with a message saying so;
- ``recipe``: ``bench_recipe_ablation.py``, the digits demo recipe against one-change variants
  (loss reduction, ...), each trained here and scored with the classifier-FD (the full size trains
  two 1,500-step models: about 10 minutes on a quiet 2-core CPU);
- ``twin``: ``bench_twin.py``, the demo recipe against a ``diffusers.UNet2DModel`` twin trained the diffusers
  way with the same optimiser, clipping, EMA and steps, both sampled with DDIM and DPM-Solver++(2M) and
  scored with the classifier-FD (the full size trains six 1,500-step models, three seeds per arm: about
  30 minutes on a quiet 2-core CPU; skipped when diffusers is not installed).

``--quick`` shrinks every benchmark to a smoke run (tens of seconds on a
2-core CPU; the numbers mean nothing). ``--dry-run`` prints the commands only.
Timing is never pass/fail: the exit status is non-zero only when a benchmark
crashes.

Usage: python benchmarks/run_all.py [--quick] [--out runs/bench] [--only bases,training,shortcuts]
       [--shortcuts-run RUN | --train-run] [--device cpu] [--dry-run]
"""

from __future__ import annotations

import argparse
import importlib.util
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
NAMES = ("bases", "training", "shortcuts", "recipe", "twin")
DEMO_RUN = ROOT / "runs" / "demo"


@dataclass
class Step:
    """One benchmark to run (``cmd``), or the reason it is skipped (``skip``)."""

    name: str
    cmd: list[str]
    skip: str = ""
    prepare: list[str] | None = None  # a command that must succeed first (training the shortcuts run)


def _is_run(path: Path) -> bool:
    return (path / "config.yaml").is_file() or (path / "checkpoints").is_dir()


def plan(args: argparse.Namespace) -> list[Step]:
    """The commands for the selected benchmarks, in order."""
    py, out, quick = sys.executable, Path(args.out), args.quick
    dev = ["--device", args.device]
    steps = []
    bases = [py, str(HERE / "bench_bases.py"), *dev]
    bases += ["--batch", "8", "--repeats", "1"] if quick else []
    steps.append(Step("bases", bases))

    training = [py, str(HERE / "bench_training.py"), *dev, "--json", str(out / "training.json")]
    training += ["--shapes", "digits", "--batch", "16", "--repeats", "1"] if quick else ["--repeats", "15"]
    no_diffusers = importlib.util.find_spec("diffusers") is None
    steps.append(
        Step("training", training, "diffusers is not installed (pip install -e '.[diffusers]')" * no_diffusers)
    )

    prepare, skip = None, ""
    if args.shortcuts_run:
        run = Path(args.shortcuts_run)
        if not _is_run(run) and not args.dry_run:
            skip = f"--shortcuts-run {run} is not a run directory (no config.yaml or checkpoints/)"
    elif args.train_run:
        run = out / "shortcuts_run"
        train_steps = "30" if quick else "1500"
        prepare = [
            py,
            "-m",
            "difflab",
            "train",
            str(ROOT / "configs" / "digits.yaml"),
            f"train.steps={train_steps}",
            f"train.checkpoint_every={train_steps}",
            f"train.device={args.device}",
            "--out",
            str(run),
        ]
    elif _is_run(DEMO_RUN):
        run = DEMO_RUN
    else:
        run = Path("RUN")
        skip = (
            "no trained run: pass --shortcuts-run RUN, or --train-run to train a small digits run here, "
            "or run `make demo` first (then runs/demo is used)"
        )
    shortcuts = [
        py,
        str(HERE / "bench_shortcuts.py"),
        str(run),
        "--device",
        args.device,
        "--json",
        str(out / "shortcuts.json"),
    ]
    if quick:
        shortcuts += ["--n", "32", "--steps", "10", "--periods", "2", "--groups", "0", "--repeats", "1"]
    else:
        shortcuts += ["--n", "500", "--periods", "3", "--groups", "1,2", "--repeats", "3"]
    steps.append(Step("shortcuts", shortcuts, skip, prepare))

    recipe = [py, str(HERE / "bench_recipe_ablation.py"), "--json", str(out / "recipe.json")]
    recipe += ["--out", str(out / "recipe")]
    recipe += ["--quick"] if quick else ["--variants", "baseline,mean", "--sampling", "leading,clip"]
    steps.append(Step("recipe", recipe, "needs --device cpu" * (args.device != "cpu")))

    twin = [py, str(HERE / "bench_twin.py"), "--json", str(out / "twin.json"), "--out", str(out / "twin")]
    twin += ["--quick"] if quick else []
    twin_skip = "needs --device cpu" * (args.device != "cpu") or "diffusers is not installed" * no_diffusers
    steps.append(Step("twin", twin, twin_skip))
    return [s for s in steps if s.name in args.only]


def _show(cmd: list[str]) -> str:
    """``cmd`` as one would type it from the repository root."""
    shown = ["python" if c == sys.executable else str(c).replace(str(ROOT) + "/", "") for c in cmd]
    return " ".join(shlex.quote(c) for c in shown)


def _run(cmd: list[str]) -> tuple[int, str]:
    """Run ``cmd`` from the repository root, echo its stdout line by line, return (status, stdout)."""
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, text=True, bufsize=1)
    lines = []
    assert proc.stdout is not None
    for line in proc.stdout:
        print(line, end="", flush=True)
        lines.append(line)
    return proc.wait(), "".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmarks; 0 unless one of them failed."""
    p = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="\n".join(__doc__.splitlines()[2:]),
    )
    p.add_argument("--out", default=str(ROOT / "runs" / "bench"), help="folder for the tables (default runs/bench)")
    p.add_argument("--quick", action="store_true", help="a short smoke run of every benchmark (numbers meaningless)")
    p.add_argument("--only", default=",".join(NAMES), help=f"comma list of {', '.join(NAMES)}")
    p.add_argument("--device", default="cpu", help="device passed to every benchmark (default cpu)")
    p.add_argument("--shortcuts-run", default=None, help="trained run directory for the shortcuts benchmark")
    p.add_argument(
        "--train-run",
        action="store_true",
        help="train a small digits run into OUT/shortcuts_run for the shortcuts benchmark",
    )
    p.add_argument("--dry-run", action="store_true", help="print the commands without running them")
    args = p.parse_args(argv)
    args.only = [n.strip() for n in args.only.split(",") if n.strip()]
    unknown = sorted(set(args.only) - set(NAMES))
    if unknown:
        p.error(f"unknown benchmark {', '.join(unknown)}; choose from {', '.join(NAMES)}")
    out = Path(args.out)
    steps = plan(args)
    if args.dry_run:
        for s in steps:
            if s.skip:
                print(f"# {s.name}: skipped: {s.skip}")
            for cmd in ([s.prepare] if s.prepare else []) + [s.cmd]:
                print(("# " if s.skip else "") + _show(cmd))
        return 0

    out.mkdir(parents=True, exist_ok=True)
    sections, failed = [], []
    for s in steps:
        print(f"\n== {s.name}: {_show(s.cmd)}", flush=True)
        t0 = time.perf_counter()
        body, status = "", "ok"
        if not s.skip and s.prepare:
            print(f"   first: {_show(s.prepare)}", flush=True)
            code = subprocess.run(s.prepare, cwd=ROOT, stdout=subprocess.DEVNULL).returncode
            if code:
                status = f"failed: training the run exited {code}"
        if s.skip:
            status = f"skipped: {s.skip}"
        elif status == "ok":
            code, body = _run(s.cmd)
            if code:
                status = f"failed: exit status {code}"
        if status != "ok":
            print(f"   {status}", flush=True)
        if status.startswith("failed"):
            failed.append(s.name)
        seconds = time.perf_counter() - t0
        note = f"{status}, {seconds:.0f} s" + (", --quick" if args.quick else "")
        text = f"# {s.name}\n\n`{_show(s.cmd)}` ({note})\n\n{body}"
        (out / f"{s.name}.md").write_text(text)
        sections.append(text)
    (out / "index.md").write_text("\n\n".join(sections))
    print(f"\nbenchmark tables written to {out}/ (index.md and one file per benchmark)")
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
