"""µs per call of Redactor.redact, and what it adds to each logged user_input event.

    .venv/bin/python bench/bench_redaction.py [--repeats R] [--events N]

Inputs: a clean and a dirty 60-char command, a clean and a dirty 2 KB message, and
a clean command whose UUID and timestamp open the gates (the slow path with nothing
to find). Each redact figure is the median of R timeit repeats; the logger part logs
the same inputs with redaction off and on, runs interleaved, median of R runs of N
events each. Times are this process's CPU time (user + system), so other work on a
shared machine inflates them less than wall-clock time would; a trivial C regex search
over the clean command is printed as a yardstick of how fast the machine is right now.
"""

from __future__ import annotations

import argparse
import re
import statistics
import tempfile
import time
import timeit
from collections.abc import Callable
from pathlib import Path

from obra_monitor.redaction import Redactor

SESSION = "3f2b8c1e-8d4a-4b7e-9c11-2a6f1e0d9b77"
CLEAN_COMMAND = "create epic for auth module in project 7 with priority high"
DIRTY_COMMAND = "mail bob@example.com the AWS key AKIAIOSFODNN7EXAMPLE today"
GATED_COMMAND = "resume 550e8400-e29b-41d4-a716-446655440000 at 2026-03-14T12:30"
_CLEAN_LINES = (
    "ERROR 2026-03-14T12:30:45.123Z orchestrator: task 118 failed after 3 retries (took 1234 ms)",
    "  File \"/home/alice/projects/obra/src/orchestrator/execute.py\", line 88, in run_task",
    "  session 550e8400-e29b-41d4-a716-446655440000, turn 12, commit 3b993f66c12dc879d136ea2234549",
    "  obra 1.7.3 on python 3.11.7; see https://docs.example.com/obra/errors#retry for details",
    "  dashboard: http://localhost:8080/sessions, tasks 1-15 in project 7 are still blocked",
)
_DIRTY_LINES = (
    "  user bob@example.com pasted password=hunter2 and card 4111 1111 1111 1111 into the prompt",
    "  retrying with Authorization: Bearer ghp_aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3zA5 from 10.1.2.3",
)


def _message(lines: tuple[str, ...], size: int) -> str:
    text = ""
    while len(text) < size:
        text += "\n".join(lines) + "\n"
    return text[:size]


CLEAN_MESSAGE = _message(_CLEAN_LINES, 2048)
DIRTY_MESSAGE = _message(_CLEAN_LINES[:3] + _DIRTY_LINES + _CLEAN_LINES[3:], 2048)
INPUTS = {
    "clean 60-char command": CLEAN_COMMAND,
    "dirty 60-char command": DIRTY_COMMAND,
    "clean command, UUID opens gates": GATED_COMMAND,
    "clean 2 KB message": CLEAN_MESSAGE,
    "dirty 2 KB message": DIRTY_MESSAGE,
}


def per_call_us(function: Callable[[], object], repeats: int) -> tuple[float, float]:
    """Median and best µs per call; `number` is picked so one repeat takes about 0.1 s."""
    timer = timeit.Timer(function, timer=time.process_time)
    number, _ = timer.autorange()
    number = max(1, number // 2)
    times = [t / number * 1e6 for t in timer.repeat(repeat=repeats, number=number)]
    return statistics.median(times), min(times)


def bench_redactor(repeats: int) -> None:
    redactor = Redactor()
    print(f"Redactor.redact, µs per call (median and best of {repeats} repeats)")
    print(f"  {'input':34} {'chars':>6} {'median':>9} {'best':>9}  findings")
    for name, text in INPUTS.items():
        median, best = per_call_us(lambda: redactor.redact(text), repeats)
        findings = len(re.findall(r"\[(?:EMAIL|IP|PHONE|SSN|CREDIT_CARD|IBAN|API_KEY|SECRET)\]",
                                  redactor.redact(text)))
        print(f"  {name:34} {len(text):>6} {median:>9.2f} {best:>9.2f}  {findings}")
    search = re.compile("x").search
    median, best = per_call_us(lambda: search(CLEAN_COMMAND), repeats)
    print(f"  yardstick, a trivial C regex search over the clean command: {median:.2f} (best {best:.2f}) µs")


def bench_logger(repeats: int, events: int) -> None:
    try:
        from obra_monitor.logger import ProductionLogger
    except ImportError:
        print("ProductionLogger: obra_monitor/logger.py is not there yet; logger figures skipped")
        return

    def run(text: str, redact: bool, directory: Path) -> float:
        path = directory / f"production-{redact}.jsonl"
        path.unlink(missing_ok=True)
        logger = ProductionLogger({"path": str(path),
                                   "privacy": {"redact_pii": redact, "redact_secrets": redact}})
        try:
            log = logger.log_user_input
            start = time.process_time()
            for _ in range(events):
                log(SESSION, text)
            return (time.process_time() - start) / events * 1e6
        finally:
            logger.close()

    print(f"\nProductionLogger.log_user_input, µs per event "
          f"(median of {repeats} interleaved runs x {events} events, sync, default rotation)")
    print(f"  {'input':34} {'redaction off':>14} {'redaction on':>13} {'added':>8}")
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        for name, text in INPUTS.items():
            off, on = [], []
            for _ in range(repeats):
                off.append(run(text, False, directory))
                on.append(run(text, True, directory))
            off_us, on_us = statistics.median(off), statistics.median(on)
            print(f"  {name:34} {off_us:>14.2f} {on_us:>13.2f} {on_us - off_us:>+8.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--events", type=int, default=2000)
    args = parser.parse_args()
    bench_redactor(args.repeats)
    bench_logger(args.repeats, args.events)


if __name__ == "__main__":
    main()
