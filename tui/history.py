"""Load the history of a big log in the background: its index and its statistics, in parallel.

The TUI shows the newest events first (the live reader's backlog) and then loads
everything older than them, the *history*: every file of the rotated set before
the first backlog line, and the live file up to it. One pass over those bytes
builds both what the stream needs (the `EventIndex`: offset, length, kind and
session of every line) and what the figures need (`stats.Stats`, the aggregator
every tool shares, fed every event in log order).

Parsing and aggregating is the slow part (a few microseconds a line), so the
history is cut into byte ranges and each range is scanned by a worker process,
one per CPU, given the open file descriptors; the parts come back pickled and
are joined in order (`EventIndex.extend`, `Stats.merge`). The screen's process
stays free to draw and to follow the live file. `processes=0` scans in the
calling thread instead.

Lines are split and classified exactly as the reader does (`reader.classify`:
blank lines skipped, malformed ones counted, lines over MAX_LINE malformed);
a range that starts inside a line leaves that line to the range before it,
and a range keeps every line that starts before its end (EventScan's rule).
The `HistoryPlan` fixes the files and where the history ends, so nothing is
counted twice or missed between the history and what the live reader returns.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from array import array
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from obra_monitor.reader import MAX_LINE, TOO_LONG, LogFile, LogSet, Segment, classify
from obra_monitor.stats import Stats
from tui.index import NO_SESSION, EventIndex

BLOCK = 1 << 20


@dataclass
class HistoryPlan:
    """What the history is: ordered segments of the open log set, and their size."""

    log_set: LogSet
    segments: list[Segment]
    slots: dict[int, int]  # log-set file id -> index source slot
    notes: list[str] = field(default_factory=list)  # what went wrong, for the status line

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
# Scanning


@dataclass
class History:
    """The history, loaded: its rows, its statistics, and how many lines were malformed."""

    index: EventIndex
    stats: Stats
    malformed: int


MIN_PART_BYTES = 4 << 20  # never split into parts smaller than this


def split(plan: HistoryPlan, parts: int, min_bytes: int = MIN_PART_BYTES) -> list[list[Segment]]:
    """The plan's segments cut into `parts` runs of about equal bytes, in order.

    A line belongs to the run in which it starts, so the cuts may fall anywhere.
    A run that reaches the end of a rotated file reads to its real end.
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


def scan(run: list[tuple[Segment, int]], *, partial: bool = False,
         progress: Callable[[int], None] | None = None,
         cancelled: threading.Event | None = None) -> History | None:
    """Index and aggregate the lines of (segment, slot) pairs; None if cancelled.

    `partial`: this run may have a predecessor (see Stats.merge).
    """
    index = EventIndex()
    stats = Stats(partial=partial)
    malformed = 0
    for segment, slot in run:
        for offsets, lengths, events in _lines(segment, progress):
            if cancelled is not None and cancelled.is_set():
                return None
            index.add_events(slot, offsets, lengths, events)
            present = [event for event in events if event is not None]
            malformed += len(events) - len(present)
            stats.add_many(present)
    return History(index, stats, malformed)


def _lines(segment: Segment, progress: Callable[[int], None] | None
           ) -> Iterator[tuple[list[int], list[int], list[dict[str, Any] | None]]]:
    """(offsets, lengths, events) of the segment's lines, a block at a time; None = malformed."""
    fd, pos, end = segment.fd, segment.start, segment.end
    # A segment starting inside a line leaves that line to the previous segment.
    skip_first = pos > 0 and os.pread(fd, 1, pos - 1) != b"\n"
    held = b""
    held_at = pos  # file offset of `held`
    long_from = -1  # start of a line longer than MAX_LINE being skipped
    while True:
        data = os.pread(fd, BLOCK, pos)
        at = pos
        pos += len(data)
        if progress is not None and data:
            progress(len(data))
        offsets: list[int] = []
        lengths: list[int] = []
        events: list[dict[str, Any] | None] = []
        if not data:
            if held and not skip_first and (end is None or held_at < end):
                _classify_into(events, offsets, lengths, [held], held_at)
            elif long_from >= 0 and (end is None or long_from < end):
                offsets.append(long_from)
                lengths.append(pos - long_from)
                events.append(None)
            if events:
                yield offsets, lengths, events
            return
        if long_from >= 0 or skip_first:
            cut = data.find(b"\n")
            if cut < 0:
                continue
            if long_from >= 0:
                if end is None or long_from < end:
                    offsets.append(long_from)
                    lengths.append(at + cut - long_from)
                    events.append(None)
                long_from = -1
            skip_first = False
            data = data[cut + 1:]
            at += cut + 1
            held, held_at = b"", at
        lines = (held + data).split(b"\n")
        held = lines.pop()
        done = False
        if end is not None and held_at + sum(map(len, lines)) + len(lines) > end:
            # Keep only the lines that start before the end.
            kept, offset = 0, held_at
            for line in lines:
                if offset >= end:
                    break
                offset += len(line) + 1
                kept += 1
            done = kept < len(lines) or offset >= end
            del lines[kept:]
        _classify_into(events, offsets, lengths, lines, held_at)
        if events:
            yield offsets, lengths, events
        if done:
            return
        held_at = pos - len(held)
        if len(held) > MAX_LINE:
            long_from, held = held_at, b""


def _classify_into(events: list[dict[str, Any] | None], offsets: list[int], lengths: list[int],
                   lines: list[bytes], offset: int) -> None:
    """The hot loop: classify complete lines starting at `offset` like the reader; skip blank ones."""
    add_event, add_offset, add_length = events.append, offsets.append, lengths.append
    for line in lines:
        n = len(line)
        if n > MAX_LINE:
            event, problem = None, TOO_LONG
        else:
            event, problem = classify(line)
            if problem is None and event is None:  # blank
                offset += n + 1
                continue
        add_event(event)
        add_offset(offset)
        add_length(n)
        offset += n + 1


def load_history(plan: HistoryPlan, *, processes: int | None = None,
                 progress: Callable[[int], None] | None = None,
                 cancelled: threading.Event | None = None,
                 min_part: int = MIN_PART_BYTES) -> History | None:
    """Index and aggregate the plan's lines; None if cancelled.

    `processes`: worker processes (default one per CPU; 0 = in this thread), each
    given at least `min_part` bytes. Falls back to this thread if workers cannot run.
    """
    if processes is None:
        processes = _cpu_count()
    runs = [[(segment, plan.slots[segment.file.id]) for segment in run]
            for run in split(plan, max(1, processes), min_part)]
    if processes > 0:
        try:
            return _in_processes(runs, progress, cancelled)
        except Exception as exc:  # noqa: BLE001 - any failure of the workers: do it here instead
            if cancelled is not None and cancelled.is_set():
                return None
            plan.notes.append(f"history workers failed ({exc}); loading in this process")
    parts = []
    for number, run in enumerate(runs):
        part = scan(run, partial=number > 0, progress=progress, cancelled=cancelled)
        if part is None:
            return None
        parts.append(part)
    return _join(parts)


def _join(parts: list[History]) -> History:
    """Parts of the history, in log order, as one."""
    first = parts[0]
    for later in parts[1:]:
        first.index.extend(later.index)
        first.stats.merge(later.stats)
        first.malformed += later.malformed
    first.stats.partial = False
    return first


def _in_processes(runs: list[list[tuple[Segment, int]]], progress: Callable[[int], None] | None,
                  cancelled: threading.Event | None) -> History | None:
    """One child per run, given the open files by descriptor.

    Each child reports progress, then sends its statistics pickled and its index
    columns as raw arrays. The parts are joined in log order as they arrive: the
    columns are read straight onto the end of the joined index, so a part's index
    is never held twice (the parent's peak memory is what the TUI is judged by).
    """
    children = []
    for number, run in enumerate(runs):
        spec = [(slot, s.fd, s.start, -1 if s.end is None else s.end) for s, slot in run]
        fds = sorted({s.fd for s, _slot in run})
        argv = [sys.executable, "-c", "from tui.history import _child; _child()", repr((spec, number > 0))]
        children.append(subprocess.Popen(argv, stdout=subprocess.PIPE, pass_fds=fds, env=_child_env()))
    joined = History(EventIndex(), Stats(), 0)
    turns = [threading.Event() for _ in children]  # part n may join once parts < n have
    turns[0].set()
    errors: list[BaseException] = []
    abort = threading.Event()  # cancelled by the caller, or a part failed

    def watch_cancel() -> None:
        while not abort.wait(0.1):
            if cancelled is not None and cancelled.is_set():
                abort.set()

    def collect(number: int, child: subprocess.Popen[bytes]) -> None:
        try:
            _read_child(child, joined, turns[number], progress, abort)
        except BaseException as exc:  # noqa: BLE001 - reported to the caller below
            errors.append(exc)
            abort.set()  # the other parts are useless now
        finally:
            if number + 1 < len(turns):
                turns[number + 1].set()

    threads = [threading.Thread(target=collect, args=(n, c), daemon=True) for n, c in enumerate(children)]
    watcher = threading.Thread(target=watch_cancel, daemon=True)
    watcher.start()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    abort.set()
    watcher.join()
    for child in children:
        if child.poll() is None:
            child.kill()
        child.wait()
        if child.stdout is not None:
            child.stdout.close()
    if cancelled is not None and cancelled.is_set():
        return None
    failures = [exc for exc in errors if not isinstance(exc, _Cancelled)]
    if failures:
        raise failures[0]
    joined.stats.partial = False
    return joined


class _Cancelled(EOFError):
    pass


COLUMN_CHUNK = 1 << 18  # items read at a time from a child's columns


def _read_child(child: subprocess.Popen[bytes], joined: History, turn: threading.Event,
                progress: Callable[[int], None] | None, cancelled: threading.Event | None) -> None:
    stream = child.stdout
    assert stream is not None
    while True:
        if cancelled is not None and cancelled.is_set():
            child.kill()
            raise _Cancelled("cancelled")
        header = stream.readline()
        if not header:
            raise EOFError("history worker ended without a result")
        tag, _, value = header.strip().partition(b" ")
        if tag == b"P":
            if progress is not None:
                progress(int(value))
            continue
        if tag != b"R":
            raise ValueError(f"unexpected output from a history worker: {header[:80]!r}")
        rows = int(value)
        while not turn.wait(0.1):  # the parts before this one join first
            if cancelled is not None and cancelled.is_set():
                child.kill()
                raise _Cancelled("cancelled")
        names, stats, malformed = pickle.load(stream)  # noqa: S301 - our own child process
        index = joined.index
        for column in (index.slots, index.offsets, index.lengths, index.kinds):
            _read_column(stream, column, rows)
        sessions = array("i")
        _read_column(stream, sessions, rows)
        remap = [index.session_id(name) for name in names] + [NO_SESSION]  # [-1] -> NO_SESSION
        if remap[:-1] == list(range(len(names))) and len(index.session_names) == len(names):
            index.sessions.extend(sessions)
        else:
            index.sessions.extend(array("i", map(remap.__getitem__, sessions)))
        joined.stats.merge(stats)
        joined.malformed += malformed
        return


def _read_column(stream: Any, column: array | bytearray, count: int) -> None:
    """Append `count` raw items from the stream to an array (or bytearray), a chunk at a time."""
    size = column.itemsize if isinstance(column, array) else 1
    while count > 0:
        n = min(count, COLUMN_CHUNK)
        data = stream.read(n * size)
        if len(data) != n * size:
            raise EOFError("history worker's output is cut short")
        if isinstance(column, array):
            column.frombytes(data)
        else:
            column.extend(data)
        count -= n


def _child() -> None:
    """Worker process: scan the segments named on the command line; send the result."""
    import ast

    spec, partial = ast.literal_eval(sys.argv[1])
    run = [(Segment(LogFile(slot, Path(), 0, 0), fd, start, None if end < 0 else end), slot)
           for slot, fd, start, end in spec]
    out = sys.stdout.buffer
    pending = 0

    def report(n: int) -> None:
        nonlocal pending
        pending += n
        if pending >= 4 << 20:
            out.write(b"P %d\n" % pending)
            out.flush()
            pending = 0

    result = scan(run, partial=partial, progress=report)
    assert result is not None
    if pending:
        out.write(b"P %d\n" % pending)
    index = result.index
    out.write(b"R %d\n" % len(index))
    pickle.dump((index.session_names, result.stats, result.malformed), out, protocol=pickle.HIGHEST_PROTOCOL)
    for column in (index.slots, index.offsets, index.lengths, index.kinds, index.sessions):
        out.write(column)
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
