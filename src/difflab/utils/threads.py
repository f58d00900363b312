"""How many CPU threads torch uses: ``OMP_NUM_THREADS`` when set, else the physical cores (never more).

On a machine shared by several torch processes, one thread per logical CPU in each process
oversubscribes the cores and slows everything several-fold; ``export OMP_NUM_THREADS=1`` (what
torchrun sets) or a small number is the fix there.
"""

import os
from pathlib import Path

import torch


def physical_cores() -> int:
    """Physical cores this process may run on (``/proc/cpuinfo`` core ids, capped by the affinity mask)."""
    try:
        allowed = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        allowed = os.cpu_count() or 1
    cores: set[tuple[str, str]] = set()
    try:
        package = core = None
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            key, value = key.strip(), value.strip()
            if key == "physical id":
                package = value
            elif key == "core id":
                core = value
            elif not key and package is not None and core is not None:
                cores.add((package, core))
                package = core = None
        if package is not None and core is not None:
            cores.add((package, core))
    except OSError:
        pass
    return max(1, min(allowed, len(cores) if cores else allowed))


def configure_threads() -> int:
    """Set torch's intra-op threads: ``OMP_NUM_THREADS`` if set, else min(current, physical cores); returns it."""
    env = os.environ.get("OMP_NUM_THREADS", "").strip()
    if env.isdigit() and int(env) >= 1:
        threads = int(env)
    else:
        threads = min(torch.get_num_threads(), physical_cores())
    if threads != torch.get_num_threads():
        torch.set_num_threads(threads)
    return threads
