"""Load the history of a big log in the background: the index fast, the statistics in parallel.

The TUI shows the newest events first (the live reader's backlog) and then loads
everything older than them, the *history*: every file of the rotated set before
the first backlog line, and the live file up to it. Two jobs run side by side:

- `index_history` (a thread) finds the lines and their kind and session, without
  parsing JSON when a line looks like what the writer writes (`{"type":"...",` ...
  `}`): about ten times faster than parsing, so a million events are scrollable
  in a second or two. Any other line is classified by `reader.classify`, exactly.
- `stats_history` feeds every event to `stats.Stats`, the aggregator all tools
  share, through `reader.EventScan`. It is the slow part (JSON parsing plus the
  aggregation), so it runs in worker processes, one per CPU, each on a byte range
  (the open file descriptors are passed to them), and the partial results are
  merged in order with `Stats.merge`. `processes=0` does it in the calling thread.

Both read exactly the same bytes: the `HistoryPlan` fixes the files and where
the history ends, so nothing is counted twice or missed between the history
and what the live reader returns.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import threading
from array import array
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from obra_monitor import events as ev
from obra_monitor.reader import MAX_LINE, EventScan, LogFile, LogSet, Segment, classify
from obra_monitor.stats import Stats
from tui.index import BYTE_CODES, MALFORMED, NO_SESSION, OTHER, EventIndex, kind_of

BLOCK = 1 << 20
_PREFIX = b'{"type":"'
_SESSION = b'"session":"'
_SESSION_WITHIN = 200  # the writer puts the envelope first: look for the session near the start


@dataclass
class HistoryPlan:
    """What the history is: ordered segments of the open log set, and their size."""

    log_set: LogSet
    segments: list[Segment]
    slots: dict[int, int]  # log-set file id -> index source slot

    @property
    def total_bytes(self) -> int:
        total = 0
        for segment in self.segments:
            end = segment.end if segment.end is not None else _size(segment.fd)
            total += max(0, end - segment.start)
        return total


def plan_history(path: Path, boundary: tuple[int, int, int] | None,
                 add_source: Callable[[int], int]) -> HistoryPlan | None:
    """The history before `boundary` = (dev, ino, offset) of the first line already shown.

    Opens the rotated set now; `add_source(fd)` registers a file for re-reading and
    returns its slot. None when there is nothing before the boundary, or when the
    boundary's file has vanished (then the history cannot be placed exactly).
    """
    if boundary is None:
        return None
    dev, ino, offset = boundary
    log_set = LogSet(path)
    run = log_set.segments(1)[0] if log_set.files else []
    segments: list[Segment] = []
    found = False
    for segment in run:
        info = segment.file
        if (info.dev, info.ino) == (dev, ino):
            if offset > 0:
                segments.append(Segment(info, segment.fd, 0, offset))
            found = True
            break
        segments.append(Segment(info, segment.fd, 0, None))
    if not found or not segments:
        log_set.close()
        return None
    slots = {segment.file.id: add_source(segment.fd) for segment in segments}
    return HistoryPlan(log_set, segments, slots)


# ---------------------------------------------------------------------------
# The index


class _Interner(dict):  # type: ignore[type-arg]
    """bytes session id -> number, numbering new ones as they come."""

    def __init__(self) -> None:
        super().__init__()
        self.names: list[bytes] = []

    def __missing__(self, key: bytes) -> int:
        number = self[key] = len(self.names)
        self.names.append(key)
        return number


def index_history(plan: HistoryPlan, progress: Callable[[int], None] | None = None,
                  cancelled: threading.Event | None = None) -> EventIndex | None:
    """Index the plan's lines; None if cancelled. `progress(bytes)` after each block."""
    index = EventIndex()
    interner = _Interner()
    for segment in plan.segments:
        if not _index_segment(index, interner, segment, plan.slots[segment.file.id], progress, cancelled):
            return None
    index.adopt_sessions([name.decode("utf-8", "replace") for name in interner.names])
    return index


def _index_segment(index: EventIndex, interner: _Interner, segment: Segment, slot: int,
                   progress: Callable[[int], None] | None, cancelled: threading.Event | None) -> bool:
    fd, pos, end = segment.fd, segment.start, segment.end
    held = b""
    held_at = pos  # file offset of `held`
    skipping = -1  # start of a line longer than MAX_LINE being skipped, or -1
    while True:
        if cancelled is not None and cancelled.is_set():
            return False
        want = BLOCK if end is None else min(BLOCK, end - pos)
        data = os.pread(fd, want, pos) if want > 0 else b""
        if not data:
            break
        data_at = pos
        pos += len(data)
        if skipping >= 0:
            cut = data.find(b"\n")
            if cut < 0:
                continue
            _add_rows(index, slot, [skipping], [data_at + cut - skipping], [MALFORMED], [NO_SESSION])
            skipping = -1
            data = data[cut + 1:]
            data_at += cut + 1
            held, held_at = b"", data_at
        lines = (held + data).split(b"\n")
        held = lines.pop()
        _index_lines(index, interner, slot, lines, held_at)
        held_at = pos - len(held)
        if len(held) > MAX_LINE:
            skipping, held = held_at, b""
        if progress is not None:
            progress(len(data))
    if skipping >= 0:
        _add_rows(index, slot, [skipping], [pos - skipping], [MALFORMED], [NO_SESSION])
    elif held:
        _index_lines(index, interner, slot, [held], held_at)
    return True


def _index_lines(index: EventIndex, interner: _Interner, slot: int, lines: list[bytes], offset: int) -> None:
    """Rows for complete lines starting at `offset` (the hot loop of the history index)."""
    offsets: list[int] = []
    lengths: list[int] = []
    kinds: list[int] = []
    sessions: list[int] = []
    codes_get = BYTE_CODES.get
    prefix, session_key, within = _PREFIX, _SESSION, _SESSION_WITHIN
    for line in lines:
        n = len(line)
        if n and line.startswith(prefix) and line.endswith(b"}") and n <= MAX_LINE:
            quote = line.find(b'"', 9)
            kind = codes_get(line[9:quote], OTHER)
            at = line.find(session_key, quote, within)
            if at >= 0:
                at += 11
                sessions.append(interner[line[at:line.find(b'"', at)]])
            else:
                sessions.append(NO_SESSION)
        elif not n:
            offset += 1
            continue
        else:
            event, problem = classify(line)
            if event is None and problem is None:  # blank
                offset += n + 1
                continue
            kind = MALFORMED if n > MAX_LINE else kind_of(event)
            session = event.get(ev.SESSION) if event is not None else None
            sessions.append(interner[session.encode()] if session.__class__ is str else NO_SESSION)
        offsets.append(offset)
        lengths.append(n)
        kinds.append(kind)
        offset += n + 1
    _add_rows(index, slot, offsets, lengths, kinds, sessions)


def _add_rows(index: EventIndex, slot: int, offsets: list[int], lengths: list[int],
              kinds: list[int], sessions: list[int]) -> None:
    index.slots.extend(array("H", [slot]) * len(offsets))
    index.offsets.extend(offsets)
    index.lengths.extend(lengths)
    index.kinds.extend(kinds)
    index.sessions.extend(sessions)


# ---------------------------------------------------------------------------
# The statistics


@dataclass
class HistoryStats:
    stats: Stats
    malformed: int


MIN_PART_BYTES = 4 << 20  # never split into parts smaller than this


def split(plan: HistoryPlan, parts: int, min_bytes: int = MIN_PART_BYTES) -> list[list[Segment]]:
    """The plan's segments cut into `parts` runs of about equal bytes, in order.

    A line belongs to the run in which it starts (EventScan's rule), so the cuts may
    fall anywhere. A run that reaches the end of a rotated file reads to its real end.
    """
    sizes = [(segment.end if segment.end is not None else _size(segment.fd)) - segment.start
             for segment in plan.segments]
    total = sum(sizes)
    parts = max(1, min(parts, total // max(1, min_bytes) or 1))
    bounds = [total * k // parts for k in range(parts + 1)]
    runs: list[list[Segment]] = []
    for part in range(parts):
        low, high = bounds[part], bounds[part + 1]
        run: list[Segment] = []
        base = 0
        for segment, size in zip(plan.segments, sizes):
            start, stop = max(low, base), min(high, base + size)
            if start < stop:
                end = segment.end if stop >= base + size else segment.start + stop - base
                run.append(Segment(segment.file, segment.fd, segment.start + start - base, end))
            base += size
        runs.append(run)
    return runs


def stats_history(plan: HistoryPlan, *, processes: int | None = None,
                  progress: Callable[[int], None] | None = None,
                  cancelled: threading.Event | None = None,
                  min_part: int = MIN_PART_BYTES) -> HistoryStats | None:
    """Aggregate the plan's events; None if cancelled.

    `processes`: worker processes (default one per CPU; 0 = in this thread), each
    given at least `min_part` bytes.
    """
    if processes is None:
        processes = _cpu_count()
    runs = split(plan, max(1, processes), min_part)
    if processes <= 0:
        return _stats_here(runs, progress, cancelled)
    try:
        return _stats_in_processes(runs, progress, cancelled)
    except (OSError, pickle.UnpicklingError, EOFError, ValueError):
        return _stats_here(runs, progress, cancelled)


def _stats_here(runs: list[list[Segment]], progress: Callable[[int], None] | None,
                cancelled: threading.Event | None) -> HistoryStats | None:
    stats = Stats()
    malformed = 0
    for run in runs:
        scan = EventScan(run, progress=progress)
        for events in scan:
            if cancelled is not None and cancelled.is_set():
                return None
            stats.add_many(events)
        malformed += scan.malformed
    return HistoryStats(stats, malformed)


def _stats_in_processes(runs: list[list[Segment]], progress: Callable[[int], None] | None,
                        cancelled: threading.Event | None) -> HistoryStats | None:
    """One child per run, given the open files by descriptor; results come back pickled."""
    children = []
    for number, run in enumerate(runs):
        spec = [(s.file.id, s.fd, s.start, -1 if s.end is None else s.end) for s in run]
        fds = sorted({s.fd for s in run})
        argv = [sys.executable, "-c", "from tui.history import _child; _child()", repr((spec, number > 0))]
        children.append(subprocess.Popen(argv, stdout=subprocess.PIPE, pass_fds=fds, env=_child_env()))
    results: list[Any] = [None] * len(children)
    errors: list[BaseException] = []

    def collect(number: int, child: subprocess.Popen[bytes]) -> None:
        try:
            results[number] = _read_child(child, progress, cancelled)
        except BaseException as exc:  # noqa: BLE001 - reported to the caller below
            errors.append(exc)

    threads = [threading.Thread(target=collect, args=(n, c), daemon=True) for n, c in enumerate(children)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for child in children:
        if child.poll() is None:
            child.kill()
        child.wait()
        if child.stdout is not None:
            child.stdout.close()
    if cancelled is not None and cancelled.is_set():
        return None
    if errors:
        raise errors[0]
    stats, malformed = results[0]
    for later, bad in results[1:]:
        stats.merge(later)
        malformed += bad
    stats.partial = False
    return HistoryStats(stats, malformed)


def _read_child(child: subprocess.Popen[bytes], progress: Callable[[int], None] | None,
                cancelled: threading.Event | None) -> tuple[Stats, int]:
    stream = child.stdout
    assert stream is not None
    while True:
        if cancelled is not None and cancelled.is_set():
            child.kill()
            raise EOFError("cancelled")
        header = stream.readline()
        if not header:
            raise EOFError("history worker ended without a result")
        tag, _, value = header.strip().partition(b" ")
        if tag == b"P":
            if progress is not None:
                progress(int(value))
        elif tag == b"R":
            payload = stream.read(int(value))
            return pickle.loads(payload)  # noqa: S301 - our own child process
        else:
            raise ValueError(f"unexpected output from a history worker: {header[:80]!r}")


def _child() -> None:
    """Worker process: aggregate the segments named on the command line."""
    import ast

    spec, partial = ast.literal_eval(sys.argv[1])
    try:
        os.nice(5)  # the screen the user is looking at comes first
    except OSError:
        pass
    segments = [Segment(LogFile(file_id, Path(), 0, 0), fd, start, None if end < 0 else end)
                for file_id, fd, start, end in spec]
    out = sys.stdout.buffer
    pending = 0

    def report(n: int) -> None:
        nonlocal pending
        pending += n
        if pending >= 4 << 20:
            out.write(b"P %d\n" % pending)
            out.flush()
            pending = 0

    stats = Stats(partial=partial)
    scan = EventScan(segments, progress=report)
    for events in scan:
        stats.add_many(events)
    if pending:
        out.write(b"P %d\n" % pending)
    payload = pickle.dumps((stats, scan.malformed), protocol=pickle.HIGHEST_PROTOCOL)
    out.write(b"R %d\n" % len(payload))
    out.write(payload)
    out.flush()


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    # The child imports `tui` the way this process did, installed or from a checkout.
    root = str(Path(__file__).resolve().parent.parent)
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def _size(fd: int) -> int:
    try:
        return os.fstat(fd).st_size
    except OSError:
        return 0


def _cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1
