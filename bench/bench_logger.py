"""µs per logged event: ProductionLogger next to what a user would otherwise use.

    .venv/bin/python bench/bench_logger.py [--events N] [--runs R]

Every contender logs the same typical nl_result with size rotation on, into
a fresh directory; each figure is the median of R runs, all in this one run of
the script, so the ratios compare like with like on a noisy machine.
"""

from __future__ import annotations

import argparse
import json
import logging
import logging.handlers
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

import orjson

from obra_monitor import ProductionLogger

SESSION = "3f2b8c1e-8d4a-4b7e-9c11-2a6f1e0d9b77"
INTENT = {
    "intent": "COMMAND", "confidence": 0.91, "operation": "DELETE", "entity": "project",
    "identifier": "__ALL__", "validation": "passed",
    "stages": {"intent": 0.94, "operation": 1.0, "entity": 0.9, "params": 0.8},
}
EVENT = {"type": "nl_result", "ts": "2026-12-04T19:56:34.123456Z", "session": SESSION, "turn": 3,
         **INTENT, "duration_ms": 1234.5}
ROTATE_MB = 8
KEEP_FILES = 50


def time_per_event(setup: Callable[[Path], tuple[Callable[[], None], Callable[[], None]]],
                   events: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        log, close = setup(Path(tmp) / "production.jsonl")
        start = time.perf_counter()
        for _ in range(events):
            log()
        close()
        return (time.perf_counter() - start) / events * 1e6


def bare_append(path: Path) -> tuple[Callable[[], None], Callable[[], None]]:
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    dumps, write, option = orjson.dumps, os.write, orjson.OPT_APPEND_NEWLINE
    return (lambda: write(fd, dumps(EVENT, option=option))), (lambda: os.close(fd))


def bare_append_stamped(path: Path) -> tuple[Callable[[], None], Callable[[], None]]:
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    option = orjson.OPT_APPEND_NEWLINE | orjson.OPT_UTC_Z

    def log() -> None:
        os.write(fd, orjson.dumps({**EVENT, "ts": datetime.now(timezone.utc)}, option=option))

    return log, (lambda: os.close(fd))


def production_logger(path: Path, **section: object) -> tuple[Callable[[], None], Callable[[], None]]:
    logger = ProductionLogger({
        "path": str(path),
        "rotation": {"max_file_size_mb": ROTATE_MB, "max_files": KEEP_FILES},
        "privacy": {"redact_pii": False, "redact_secrets": False},
        **section,
    })
    logger.log_user_input(SESSION, "delete all projects")
    return (lambda: logger.log_nl_result(SESSION, INTENT, 1234.5)), logger.close


def production_logger_input(path: Path) -> tuple[Callable[[], None], Callable[[], None]]:
    """The envelope and write path alone: a user_input has one field to prepare."""
    logger = ProductionLogger({
        "path": str(path),
        "rotation": {"max_file_size_mb": ROTATE_MB, "max_files": KEEP_FILES},
        "privacy": {"redact_pii": False, "redact_secrets": False},
    })
    return (lambda: logger.log_user_input(SESSION, "delete all projects")), logger.close


def stdlib_rotating(path: Path) -> tuple[Callable[[], None], Callable[[], None]]:
    handler = logging.handlers.RotatingFileHandler(
        path, maxBytes=ROTATE_MB * 1024 * 1024, backupCount=KEEP_FILES - 1)
    handler.setFormatter(logging.Formatter("%(message)s"))
    std = logging.getLogger(f"bench.{path}")
    std.propagate = False
    std.setLevel(logging.INFO)
    std.addHandler(handler)

    def log() -> None:
        std.info(json.dumps({**EVENT, "ts": datetime.now(timezone.utc).isoformat()}))

    def close() -> None:
        std.removeHandler(handler)
        handler.close()

    return log, close


MULTI_WORKER = textwrap.dedent("""
    import sys, time
    from obra_monitor import ProductionLogger
    path, events, worker = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    logger = ProductionLogger({"path": path, "rotation": {"max_file_size_mb": 1, "max_files": 100000},
                               "privacy": {"redact_pii": False, "redact_secrets": False}})
    intent = {"intent": "COMMAND", "confidence": 0.91, "operation": "DELETE", "entity": "project"}
    start = time.perf_counter()
    for i in range(events):
        logger.log_nl_result(worker, intent, i)
    logger.close()
    print((time.perf_counter() - start) / events * 1e6, logger.stats.events_dropped)
""")


def multi_process(processes: int, events: int) -> tuple[float, int, int]:
    """µs per event per process, and events expected vs found in the files."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "production.jsonl"
        children = [subprocess.Popen([sys.executable, "-c", MULTI_WORKER, str(path), str(events), f"w{p}"],
                                     stdout=subprocess.PIPE, text=True) for p in range(processes)]
        outputs = [child.communicate()[0].split() for child in children]
        per_event = statistics.median(float(out[0]) for out in outputs)
        found = set()
        for file in Path(tmp).glob("production.jsonl*"):
            if file.name.endswith(".lock"):
                continue
            for raw in file.read_bytes().splitlines():
                event = orjson.loads(raw)
                found.add((event["session"], event["duration_ms"]))
        return per_event, processes * events, len(found)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    contenders: dict[str, Callable[[Path], tuple[Callable[[], None], Callable[[], None]]]] = {
        "bare orjson.dumps + os.write (floor)": bare_append,
        "  same, with a fresh timestamp": bare_append_stamped,
        "ProductionLogger sync": production_logger,
        "  user_input (no ParsedIntent to read)": production_logger_input,
        "ProductionLogger sync, redaction on": lambda p: production_logger(
            p, privacy={"redact_pii": True, "redact_secrets": True}),
        "ProductionLogger async": lambda p: production_logger(p, async_logging=True, buffer_size=65536),
        "stdlib RotatingFileHandler + json": stdlib_rotating,
    }
    results = {name: [] for name in contenders}
    for _ in range(args.runs):  # interleaved, so machine noise hits every contender alike
        for name, setup in contenders.items():
            results[name].append(time_per_event(setup, args.events))
    medians = {name: statistics.median(runs) for name, runs in results.items()}
    floor = medians["bare orjson.dumps + os.write (floor)"]
    ours = medians["ProductionLogger sync"]
    stdlib = medians["stdlib RotatingFileHandler + json"]

    print(f"{args.events} nl_result events per run, rotation at {ROTATE_MB} MB, median of {args.runs} runs")
    print(f"{'contender':<40} {'µs/event':>9} {'x floor':>8}")
    for name, value in medians.items():
        print(f"{name:<40} {value:>9.2f} {value / floor:>8.2f}")
    print(f"\nProductionLogger sync is {stdlib / ours:.1f}x faster than RotatingFileHandler")

    per_event, expected, found = multi_process(4, args.events // 2)
    print(f"4 processes x {args.events // 2} events, rotation at 1 MB: {per_event:.2f} µs/event per process,"
          f" {expected} written, {found} found in the files, {expected - found} lost")


if __name__ == "__main__":
    main()
