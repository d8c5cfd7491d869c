"""Run a command and measure it: wall and CPU time, peak memory of its process tree.

Shared by the benchmark scripts (run as `python bench/NAME.py`, so this directory is on
sys.path): every figure of the same kind is measured the same way.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from typing import NamedTuple


class Measured(NamedTuple):
    wall: float  # seconds
    cpu: float  # seconds, user + system, of the command and its children
    tree_pss: int  # bytes, peak over the process tree (sampled every 10 ms); shared pages counted once
    max_rss: int  # bytes, the largest single process (wait4)


def run_measured(command: list[str]) -> Measured:
    started = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak = [0]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], tree_pss(proc.pid))
            done.wait(0.01)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    done.set()
    sampler.join()
    proc.returncode = os.waitstatus_to_exitcode(status)
    error = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(command[:2])} failed ({proc.returncode}): {error[:500]}")
    return Measured(wall, usage.ru_utime + usage.ru_stime, peak[0], usage.ru_maxrss * 1024)


def tree_pss(pid: int) -> int:
    """Sum of Pss over the process and its descendants (bytes)."""
    total = 0
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            with open(f"/proc/{current}/smaps_rollup") as rollup:
                for line in rollup:
                    if line.startswith("Pss:"):
                        total += int(line.split()[1]) * 1024
                        break
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children") as children:
                    pending += [int(child) for child in children.read().split()]
        except (OSError, ValueError):
            continue
    return total


def mb(n: int) -> str:
    return f"{n / 1e9:.2f} GB" if n >= 1e9 else f"{n / 1e6:.0f} MB"
