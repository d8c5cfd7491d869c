"""`obra-monitor tui` on a big log, in a real terminal, side by side with toolong (`tl`).

    .venv/bin/python bench/make_big_log.py                 # once: bench/out/big.jsonl (~300 MB)
    python3 -m venv /tmp/tl-venv && /tmp/tl-venv/bin/pip install toolong   # optional, own venv
    .venv/bin/python bench/bench_tui.py --tl /tmp/tl-venv/bin/tl

Each tool runs in a detached tmux session (160x50) on a private copy of the log (appends
never touch bench/out). The screen is read with `tmux capture-pane` in a tight loop, so
every figure is what a person would see, to within a capture and the 10 ms left between
captures (back-to-back captures would take CPU from the app being timed):

- first screen: from starting the command to one of the log's last lines being on screen;
- all loaded: obra-monitor until its status bar shows the full event count (every statistic
  aggregated); toolong until its line scan is finished (it computes no statistics);
- append-to-visible: a line is appended (one write, like the logger), time until it is on
  screen; median of --appends, spaced out so that each is seen alone;
- peak RSS of the app process (VmHWM from /proc). obra-monitor's history workers are
  separate processes that exit once the history is loaded; their peak is shown apart;
- keys under load: while a writer appends --rate events/s, a key that changes the screen
  is pressed (obra-monitor: `f`, pause/follow, seen in the status bar; toolong: Ctrl+F /
  Escape, its find bar), time until the change is on screen; median and max of --keys;
- dropped: obra-monitor's event count after the writer stopped, against what was written.

The first line printed is this machine's speed and load: shared 2-vCPU machines vary.
Medians over --runs runs are printed, one run's figures per line with --verbose.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import orjson

HERE = Path(__file__).resolve().parent
BIG = HERE / "out" / "big.jsonl"
OBRA_MONITOR = Path(sys.executable).with_name("obra-monitor")
WIDTH, HEIGHT = 160, 50
TIMEOUT = 120.0
CAPTURE_GAP = 0.01  # s between screen captures while timing: a capture costs the tmux server
# (and this 2-CPU machine) a few ms of CPU, which back-to-back captures would take from the app


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--log", type=Path, default=BIG, help=f"log to open (default {BIG})")
    parser.add_argument("--tl", type=Path, default=Path("/tmp/tl-venv/bin/tl"),
                        help="toolong's `tl` (installed in its own venv; skipped if missing)")
    parser.add_argument("--runs", type=int, default=3, help="runs of each tool (medians are reported)")
    parser.add_argument("--appends", type=int, default=20, help="appended lines timed per run")
    parser.add_argument("--keys", type=int, default=10, help="keypresses timed per run, under load")
    parser.add_argument("--rate", type=int, default=5000, help="events/s appended during the key test")
    parser.add_argument("--verbose", action="store_true", help="print every run")
    args = parser.parse_args(argv)
    if shutil.which("tmux") is None:
        print("tmux is needed", file=sys.stderr)
        return 2
    if not args.log.exists():
        print(f"{args.log} is missing: run .venv/bin/python bench/make_big_log.py first", file=sys.stderr)
        return 2
    print(f"machine speed now: {_loop_ns():.0f} ns per trivial Python loop iteration, "
          f"load average {os.getloadavg()[0]:.2f}, {os.cpu_count()} CPUs")
    work = Path(tempfile.mkdtemp(prefix="bench-tui-"))
    try:
        log = work / args.log.name
        print(f"copying {args.log} ({args.log.stat().st_size / 1e6:.0f} MB) to {work} ...", flush=True)
        shutil.copyfile(args.log, log)
        size = log.stat().st_size
        events, lines, markers = _census(log)
        print(f"{events:,} events in {lines:,} lines\n")
        tools: list[Tool] = [Ours(events)]
        if args.tl.exists():
            tools.append(Toolong(args.tl))
        else:
            print(f"toolong skipped: {args.tl} not found (install it in its own venv: "
                  "python3 -m venv /tmp/tl-venv && /tmp/tl-venv/bin/pip install toolong)\n")
        results: dict[str, list[dict[str, float]]] = {}
        Terminal.boot()
        for tool in tools:
            for run in range(args.runs):
                os.truncate(log, size)
                figures = measure(tool, log, markers, args, run)
                results.setdefault(tool.name, []).append(figures)
                if args.verbose:
                    print(f"  {tool.name} run {run + 1}: " + ", ".join(
                        f"{key} {_fmt(key, value)}" for key, value in figures.items()), flush=True)
        report(results, args)
        print(f"\nload average at the end {os.getloadavg()[0]:.2f}")
    finally:
        Terminal.shutdown()
        shutil.rmtree(work, ignore_errors=True)
    return 0


# ---------------------------------------------------------------------------
# The tools


class Tool:
    name = ""

    def command(self, log: Path) -> list[str]:
        raise NotImplementedError

    def loaded(self, screen: str) -> bool:
        raise NotImplementedError

    def shows(self, screen: str, marker: str) -> bool:
        return marker in screen

    keys: tuple[tuple[str, Callable[[str], bool]], ...] = ()


class Ours(Tool):
    name = "obra-monitor tui"

    def __init__(self, events: int) -> None:
        self.events = events
        self.keys = (
            ("f", lambda screen: "PAUSED" in screen.split("\n", 1)[0]),
            ("f", lambda screen: "LIVE" in screen.split("\n", 1)[0]),
        )

    def command(self, log: Path) -> list[str]:
        return [str(OBRA_MONITOR), "tui", str(log)]

    def loaded(self, screen: str) -> bool:
        return f"{self.events:,} events" in screen.split("\n", 1)[0]

    def count(self, screen: str) -> int | None:
        found = re.search(r"([\d,]+) events", screen.split("\n", 1)[0])
        return int(found.group(1).replace(",", "")) if found else None


class Toolong(Tool):
    name = "toolong (tl)"

    def __init__(self, tl: Path) -> None:
        self.tl = tl
        self.keys = (
            ("C-f", lambda screen: "Next" in screen.rstrip().rsplit("\n", 1)[-1]),
            ("Escape", lambda screen: "Find" in screen.rstrip().rsplit("\n", 1)[-1]),
        )

    def command(self, log: Path) -> list[str]:
        return [str(self.tl), str(log)]

    def loaded(self, screen: str) -> bool:
        return "Scanning" not in screen and re.search(r"• \d+\s*$", screen.rstrip()) is not None


# ---------------------------------------------------------------------------
# One run


def measure(tool: Tool, log: Path, markers: list[str], args: argparse.Namespace, run: int) -> dict[str, float]:
    session = f"bench-tui-{os.getpid()}-{run}"
    figures: dict[str, float] = {}
    term = Terminal(session)
    start = time.perf_counter()
    term.start(tool.command(log))
    try:
        pid = term.pid()
        memory = Memory(pid)
        memory.start()
        screen = term.wait(lambda s: any(marker in s for marker in markers), "the first screen",
                           interval=CAPTURE_GAP)
        figures["first screen s"] = time.perf_counter() - start
        term.wait(tool.loaded, "everything loaded", interval=0.05)
        figures["all loaded s"] = time.perf_counter() - start
        time.sleep(0.5)

        latencies = []
        for number in range(args.appends):
            marker = f"bench-append-{run}-{number}-{uuid.uuid4().hex[:6]}"
            _append(log, [_event(marker)])
            sent = time.perf_counter()
            term.wait(lambda s, m=marker: m in s, f"appended line {number}", interval=CAPTURE_GAP)
            latencies.append(time.perf_counter() - sent)
            time.sleep(0.15)
        figures["append median ms"] = statistics.median(latencies) * 1000
        figures["append max ms"] = max(latencies) * 1000

        writer = Writer(log, args.rate)
        writer.start()
        time.sleep(1.0)
        keys = []
        for number in range(args.keys):
            key, done = tool.keys[number % len(tool.keys)]
            term.send(key)
            sent = time.perf_counter()
            term.wait(done, f"key {key}", interval=CAPTURE_GAP)
            keys.append(time.perf_counter() - sent)
            time.sleep(0.2)
        writer.stop()
        figures["key median ms"] = statistics.median(keys) * 1000
        figures["key max ms"] = max(keys) * 1000
        figures["written under load"] = writer.written

        if isinstance(tool, Ours):
            if "PAUSED" in term.capture().split("\n", 1)[0]:
                term.send("f")
            expected = tool.events + args.appends + writer.written
            try:
                screen = term.wait(lambda s: tool.count(s) == expected, "the final count", timeout=30,
                                   interval=0.05)
                figures["dropped events"] = 0
            except TimeoutError:
                screen = term.capture()
                figures["dropped events"] = expected - (tool.count(screen) or 0)
        memory.stop()
        figures["peak RSS MB"] = memory.peak / 1024
        if memory.children_peak:
            figures["workers peak RSS MB"] = memory.children_peak / 1024
    finally:
        term.stop()
    return figures


class Terminal:
    """A detached tmux session running one command; its screen as text.

    The sessions live on a tmux server of their own (`tmux -L`), so that nothing else
    using tmux on the machine (a `kill-server`, a session of the same name) can touch them.
    """

    SOCKET = f"bench-tui-{os.getpid()}"

    def __init__(self, name: str) -> None:
        self.name = name

    @classmethod
    def tmux(cls, *args: str, **options: object) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["tmux", "-L", cls.SOCKET, *args], text=True, **options)  # type: ignore[call-overload]

    @classmethod
    def boot(cls) -> None:
        """Start the private server with an idle session, so that it outlives each run's
        session (a server exits with its last session, racing the next run's start)."""
        cls.tmux("new-session", "-d", "-s", "keepalive", "sleep 1000000", check=True)

    @classmethod
    def shutdown(cls) -> None:
        cls.tmux("kill-server", capture_output=True)

    def start(self, command: list[str]) -> None:
        line = "exec " + " ".join(_quote(part) for part in command)
        self.tmux("new-session", "-d", "-s", self.name, "-x", str(WIDTH), "-y", str(HEIGHT), line, check=True)

    def pid(self) -> int:
        out = self.tmux("display-message", "-p", "-t", self.name, "#{pane_pid}", check=True,
                        capture_output=True).stdout
        return int(out.strip())

    def capture(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", self.name, capture_output=True).stdout

    def send(self, key: str) -> None:
        self.tmux("send-keys", "-t", self.name, key, check=True)

    def wait(self, condition: Callable[[str], bool], what: str, timeout: float = TIMEOUT,
             interval: float = 0.0) -> str:
        """Capture until `condition(screen)`; back to back for latencies, every `interval` s for
        long waits (each capture costs the tmux server some CPU, taken from the app measured)."""
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            screen = self.capture()
            if condition(screen):
                return screen
            if interval:
                time.sleep(interval)
        raise TimeoutError(f"timed out waiting for {what}")

    def stop(self) -> None:
        self.tmux("kill-session", "-t", self.name, capture_output=True)


class Memory(threading.Thread):
    """Samples the app's peak RSS (VmHWM) and its child processes' (every 50 ms)."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.peak = 0
        self.children_peak = 0
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.wait(0.05):
            self.sample()

    def sample(self) -> None:
        self.peak = max(self.peak, _status_kb(self.pid, "VmHWM:"))
        for child in _children(self.pid):
            self.children_peak = max(self.children_peak, _status_kb(child, "VmHWM:"))

    def stop(self) -> None:
        self.sample()
        self._halt.set()
        self.join()


class Writer(threading.Thread):
    """Appends `rate` events per second, in one write every 10 ms, like a busy host app."""

    def __init__(self, log: Path, rate: int) -> None:
        super().__init__(daemon=True)
        self.log = log
        self.rate = rate
        self.written = 0
        self._halt = threading.Event()

    def run(self) -> None:
        fd = os.open(self.log, os.O_WRONLY | os.O_APPEND)
        try:
            begin = time.perf_counter()
            while not self._halt.is_set():
                due = int((time.perf_counter() - begin) * self.rate) - self.written
                if due > 0:
                    os.write(fd, b"".join(_line(_event(f"load {self.written + i}")) for i in range(due)))
                    self.written += due
                self._halt.wait(0.01)
        finally:
            os.close(fd)

    def stop(self) -> None:
        self._halt.set()
        self.join()


# ---------------------------------------------------------------------------
# Helpers


def report(results: dict[str, list[dict[str, float]]], args: argparse.Namespace) -> None:
    keys: list[str] = []
    for runs in results.values():
        for figures in runs:
            keys += [key for key in figures if key not in keys]
    names = list(results)
    width = max(len(key) for key in keys) + 2
    print(f"\nmedians of {args.runs} run(s); appends: {args.appends} per run; keys: {args.keys} per run "
          f"with {args.rate:,} events/s being appended")
    print(" " * width + "".join(f"{name:>20}" for name in names))
    for key in keys:
        row = f"{key:<{width}}"
        for name in names:
            values = [figures[key] for figures in results[name] if key in figures]
            row += f"{_fmt(key, statistics.median(values)) if values else '-':>20}"
        print(row)


def _fmt(key: str, value: float) -> str:
    if key.endswith(" s"):
        return f"{value:.2f}"
    if key.endswith("events") or key.startswith("written"):
        return f"{value:,.0f}"
    return f"{value:.0f}"


def _census(log: Path) -> tuple[int, int, list[str]]:
    """Events and lines in the log, and the clock (HH:MM:SS.mmm) of its last lines."""
    events = lines = 0
    with open(log, "rb") as f:
        for raw in f:
            if not raw.strip():
                continue
            lines += 1
            try:
                obj = orjson.loads(raw)
            except orjson.JSONDecodeError:
                continue
            if isinstance(obj, dict) and isinstance(obj.get("type"), str) and obj["type"]:
                events += 1
    markers = []
    with open(log, "rb") as f:
        f.seek(max(0, log.stat().st_size - 20_000))
        for raw in f.read().split(b"\n")[-12:]:
            found = re.search(rb'"ts":"[^"T]*T(\d\d:\d\d:\d\d\.\d{3})', raw)
            if found:
                markers.append(found.group(1).decode())
    return events, lines, markers


def _event(text: str) -> dict[str, object]:
    return {"type": "user_input", "ts": "2026-12-31T23:59:59.000000Z",
            "session": "bbbbbbbb-0000-4000-8000-000000000000", "turn": 1, "input": text}


def _line(event: dict[str, object]) -> bytes:
    return orjson.dumps(event) + b"\n"


def _append(log: Path, events: list[dict[str, object]]) -> None:
    fd = os.open(log, os.O_WRONLY | os.O_APPEND)
    try:
        os.write(fd, b"".join(_line(event) for event in events))
    finally:
        os.close(fd)


def _status_kb(pid: int, field: str) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _children(pid: int) -> list[int]:
    """Child processes of any thread of `pid`."""
    children = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            try:
                with open(f"/proc/{pid}/task/{task}/children") as f:
                    children += [int(child) for child in f.read().split()]
            except OSError:
                continue
    except OSError:
        pass
    return children


def _quote(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


def _loop_ns() -> float:
    start = time.perf_counter()
    for _ in range(1_000_000):
        pass
    return (time.perf_counter() - start) * 1000


if __name__ == "__main__":
    sys.exit(main())
