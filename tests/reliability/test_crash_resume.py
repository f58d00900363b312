"""Fault injection: kill -9, SIGINT and SIGTERM at exact points of a step and of a checkpoint write.

Each case runs ``difflab train`` in a forked child that signals itself from a fault hook
(:func:`difflab.utils.faults.set_fault_hook`; no timers), then resumes in-process and checks
what issue 17 promises:
the interrupted run exits with the right code, every folder that looks like a checkpoint
loads, a signal's checkpoint is the step it says, the resume leaves no temporary folder,
the log holds each step once, and the final weights equal an uninterrupted run bit for bit.
"""

import os
import re
import signal
import sys
import traceback
from pathlib import Path

import pytest
import torch

from difflab.cli.main import main
from difflab.io import list_checkpoints, load_checkpoint, read_jsonl
from difflab.utils.faults import set_fault_hook
from tests.helpers import ROOT

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="fault injection forks a child (POSIX)")

STEPS = 12
TINY = [
    f"train.steps={STEPS}",
    "train.batch_size=16",
    "train.checkpoint_every=4",
    "train.keep_last=1",  # every save prunes: kills inside pruning are reachable
    "train.log_every=1",
    "train.warmup_steps=2",
    "network.hidden=16",
    "network.depth=2",
    "train.device=cpu",
]

# (fault point, step, action, expected exit code, step of the checkpoint the interrupted run must leave)
CASES = {
    "kill-writing-weights": ("save:weights", 8, "kill", -signal.SIGKILL, 4),
    "kill-before-rename": ("save:before_rename", 8, "kill", -signal.SIGKILL, 4),
    "kill-before-prune": ("save:before_prune", 8, "kill", -signal.SIGKILL, 8),
    "kill-inside-prune": ("prune:renamed", 4, "kill", -signal.SIGKILL, 8),
    "kill-mid-step": ("step:after_optimizer", 6, "kill", -signal.SIGKILL, 4),
    "sigint-after-batch": ("step:after_batch", 5, "sigint", 130, 6),
    "sigint-after-ema": ("step:after_ema", 6, "sigint", 130, 7),
    "sigint-on-a-checkpoint-step": ("step:after_backward", 7, "sigint", 130, 8),
    "sigint-while-saving": ("save:weights", 4, "sigint", 130, 4),
    "sigterm-after-optimizer": ("step:after_optimizer", 9, "sigterm", 143, 10),
    "sigterm-at-step-end": ("step:end", 2, "sigterm", 143, 2),
}
# What a kill leaves behind, hidden: a save's temp folder, or a pruned folder renamed before deletion.
LEFTOVER = {
    "kill-writing-weights": ".tmp_step_000008_",
    "kill-before-rename": ".tmp_step_000008_",
    "kill-inside-prune": ".del_step_000004_",
}


def _cli(out: Path, *extra: str) -> int:
    return main(["train", str(ROOT / "configs" / "toy2d.yaml"), *TINY, *extra, "--no-progress", "--out", str(out)])


def _step_of(info: dict) -> int | None:
    """``step:*`` points: steps completed before it; ``save:*``: the step saved; ``prune:*``: the step pruned."""
    if "trainer" in info:
        return info["trainer"].step
    if "step" in info:
        return info["step"]
    match = re.search(r"step_(\d+)", str(info.get("path", "")))
    return int(match.group(1)) if match else None


def _faulted(out: Path, point: str, step: int, action: str) -> tuple[int, str]:
    """Train in a forked child that sends ``action`` to itself at ``point`` of ``step``; (exit code, stderr)."""
    err = out.parent / f"{out.name}.stderr"
    signum = {"kill": signal.SIGKILL, "sigint": signal.SIGINT, "sigterm": signal.SIGTERM}[action]
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        code = 97
        try:
            signal.alarm(60)  # a hang kills the child instead of the test session
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115
            sys.stderr = open(err, "w")  # noqa: SIM115
            fired = []

            def hook(name, info):
                if name == point and _step_of(info) == step and not fired:
                    fired.append(name)
                    os.kill(os.getpid(), signum)

            set_fault_hook(hook)
            code = _cli(out)
            if not fired:
                print(f"fault point {point} at step {step} was never reached", file=sys.stderr)
                code = 99
        except BaseException:
            traceback.print_exc()
        finally:
            sys.stderr.flush()
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), err.read_text() if err.exists() else ""


def _final_tensors(out: Path) -> dict[str, torch.Tensor]:
    ckpt = load_checkpoint(out / "checkpoints" / f"step_{STEPS:06d}")
    return {f"{g}.{k}": v for g, named in ckpt.tensors.items() for k, v in named.items()}


@pytest.fixture(scope="module")
def faulted_runs(tmp_path_factory):
    """Every fault case, each in a forked child (the point is chosen, not timed)."""
    root = tmp_path_factory.mktemp("faults")
    return {name: (root / name, _faulted(root / name, *case[:3])) for name, case in CASES.items()}


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    out = tmp_path_factory.mktemp("reference") / "run"
    assert _cli(out) == 0
    return _final_tensors(out)


@pytest.mark.parametrize("case", list(CASES))
def test_fault_then_resume_is_exact(case, reference, faulted_runs, capsys):
    point, step, action, code, saved = CASES[case]
    out, (returncode, stderr) = faulted_runs[case]
    assert returncode == code, stderr[-2000:]
    if action != "kill":
        name = "SIGINT" if action == "sigint" else "SIGTERM"
        assert f"stopped by {name} after step {saved}; checkpoint step_{saved:06d}" in stderr
        assert "Traceback" not in stderr
    ckpts = list_checkpoints(out / "checkpoints")
    for ckpt in ckpts:  # nothing that looks like a checkpoint fails to load
        load_checkpoint(ckpt)
    assert ckpts and ckpts[-1].name == f"step_{saved:06d}"
    hidden = [p.name for p in (out / "checkpoints").iterdir() if p.name.startswith(".")]
    if case in LEFTOVER:
        assert [n for n in hidden if n.startswith(LEFTOVER[case])], hidden
    if action != "kill":
        # the signal's checkpoint is exactly the step it names: its log line is the last one
        assert read_jsonl(out / "train_log.jsonl")[-1]["step"] == saved

    assert _cli(out) == 0
    leftovers = [p.name for p in (out / "checkpoints").iterdir() if p.name.startswith(".")]
    assert leftovers == []
    steps = [r["step"] for r in read_jsonl(out / "train_log.jsonl")]
    assert steps == list(range(1, STEPS + 1))
    final = _final_tensors(out)
    assert final.keys() == reference.keys()
    assert all(torch.equal(final[k], reference[k]) for k in final), case


def test_every_named_fault_point_is_reached(faulted_runs):
    """A hook that never fires would make a case pass vacuously (the worker exits 99 then)."""
    assert all(code not in (97, 99) for _, (code, _) in faulted_runs.values())
