"""``make bench`` starts correctly: its runner exists, plans scripts that exist, with flags they accept.

The benchmarks themselves are never run here (timing is not a test); ``--quick``
runs them all in about 20 s on a 2-core CPU.
"""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RUNNER = ROOT / "benchmarks" / "run_all.py"


def _runner(*args: str) -> str:
    out = subprocess.run([sys.executable, str(RUNNER), *args], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_makefile_bench_runs_the_runner():
    makefile = (ROOT / "Makefile").read_text()
    assert "benchmarks/run_all.py" in makefile
    assert RUNNER.is_file()


def test_help_lists_the_options():
    text = _runner("--help")
    for flag in ("--quick", "--out", "--only", "--shortcuts-run", "--train-run", "--dry-run"):
        assert flag in text


def _planned(tmp_path: Path) -> list[list[str]]:
    text = _runner("--quick", "--dry-run", "--train-run", "--out", str(tmp_path))
    return [line.lstrip("# ").split() for line in text.splitlines() if "python" in line]


def test_plan_covers_every_benchmark_and_writes_under_out(tmp_path):
    cmds = _planned(tmp_path)
    scripts = {Path(c[1]).name for c in cmds if c[1].endswith(".py")}
    assert scripts == {
        "bench_bases.py",
        "bench_training.py",
        "bench_shortcuts.py",
        "bench_recipe_ablation.py",
        "bench_twin.py",
    }
    for c in cmds:
        if c[1].endswith(".py"):
            assert (ROOT / c[1]).is_file(), c[1]
    assert any(str(tmp_path) in " ".join(c) for c in cmds)


def test_unknown_benchmark_is_an_error():
    out = subprocess.run(
        [sys.executable, str(RUNNER), "--only", "nope", "--dry-run"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 2 and "unknown benchmark nope" in out.stderr


@pytest.mark.parametrize(
    "script", ["bench_bases.py", "bench_training.py", "bench_shortcuts.py", "bench_recipe_ablation.py", "bench_twin.py"]
)
def test_each_script_accepts_the_flags_it_is_given(tmp_path, script):
    cmd = next(c for c in _planned(tmp_path) if c[1].endswith(script))
    flags = [a for a in cmd[2:] if a.startswith("--")]
    usage = subprocess.run(
        [sys.executable, str(ROOT / cmd[1]), "--help"], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert usage.returncode == 0, usage.stderr
    for flag in flags:
        assert flag in usage.stdout, f"{script} has no {flag}"
