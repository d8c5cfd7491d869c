"""Read a production log: the rotated set oldest to newest, then follow the live file.

The writer rotates by rename (`production.jsonl` -> `.1` -> ... -> `.N`), so a
file keeps its identity (device, inode) while its name changes. This module
has three layers, smallest first:

- `_Splitter` cuts the bytes of one file into lines: it holds a torn last line
  until its newline arrives and replaces lines longer than `max_line` by a
  `TooLong` marker (only their first `PREVIEW` bytes are kept).
- `EventScan` is the fast bulk path for analysis: it reads a set of files (or
  byte ranges of them, for parallel workers) with `os.pread` in big blocks and
  yields lists of parsed event dicts, one list per block; malformed lines are
  only counted (and the first few kept as `Record` samples).
- `LogReader` is the incremental path for `tail` and the TUI: `poll()` (or
  `poll_batches()`) returns what was appended since the last call, following
  the live file across rotation and truncation. Every line it returns carries
  where it came from (file id, byte offset, length), so a view can keep a
  compact index and re-read a line later with `read_line()`.

A line is malformed when it is not JSON, not a JSON object, has no string
`type`, or is longer than `max_line`. Malformed lines are never fatal. Blank
lines are skipped silently. Nothing here memory-maps a file.
"""

from __future__ import annotations

import os
import re
from array import array
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from obra_monitor.events import TYPE

BLOCK_SIZE = 64 << 10
MAX_LINE = 1 << 20
PREVIEW = 4096

# Why a line is malformed (Record.problem).
NOT_JSON = "not JSON"
NOT_OBJECT = "not a JSON object"
NO_TYPE = 'no "type" string'
TOO_LONG = "line too long"

_loads = orjson.loads
_DecodeError = orjson.JSONDecodeError
_NUMBERED = re.compile(r"\.([0-9]{1,6})")


@dataclass(frozen=True, slots=True)
class LogFile:
    """One physical file, as first opened; `id` is what records refer to."""

    id: int
    path: Path
    dev: int
    ino: int


@dataclass(frozen=True, slots=True)
class Record:
    """One line: where it is, and its event (or why it is malformed).

    `text` is the raw line (without the newline) when the reader keeps text or
    the line is malformed; for malformed lines it is capped at PREVIEW bytes.
    """

    file: int
    offset: int
    length: int
    event: dict[str, Any] | None
    problem: str | None = None
    text: bytes | None = None


class TooLong:
    """Stands in for a line longer than max_line: its full length and first bytes."""

    __slots__ = ("length", "preview")

    def __init__(self, length: int, preview: bytes) -> None:
        self.length = length
        self.preview = preview


def classify(line: bytes | TooLong) -> tuple[dict[str, Any] | None, str | None]:
    """(event, None) for a good line, (None, problem) for a malformed one, (None, None) if blank."""
    try:
        obj = _loads(line)  # type: ignore[arg-type]
    except _DecodeError:
        if line.__class__ is TooLong:
            return None, TOO_LONG
        return (None, None) if not line.strip() else (None, NOT_JSON)  # type: ignore[union-attr]
    if obj.__class__ is not dict:
        return None, NOT_OBJECT
    kind = obj.get(TYPE)
    if kind.__class__ is not str or not kind:
        return None, NO_TYPE
    return obj, None


def rotated_set(path: str | os.PathLike[str]) -> list[Path]:
    """The existing files of a log set, oldest first: `path.N` ... `path.1`, `path`."""
    path = Path(path)
    prefix = path.name
    numbered: list[tuple[int, str]] = []
    try:
        entries = os.listdir(path.parent)
    except OSError:
        entries = []
    for entry in entries:
        if entry.startswith(prefix):
            match = _NUMBERED.fullmatch(entry, len(prefix))
            if match:
                numbered.append((int(match.group(1)), entry))
    numbered.sort(reverse=True)
    files = [path.parent / entry for _, entry in numbered]
    if path.is_file():
        files.append(path)
    return files


def open_rotated_set(path: Path) -> list[tuple[Path, int, os.stat_result]]:
    """Open every file of the set; (path, fd, stat) oldest first, each physical file once.

    Opened newest first, so that a rotation meanwhile shows a file twice
    (skipped by its identity) rather than hiding one.
    """
    opened: list[tuple[Path, int, os.stat_result]] = []
    seen: set[tuple[int, int]] = set()
    for file_path in reversed(rotated_set(path)):
        try:
            fd = os.open(file_path, os.O_RDONLY)
        except OSError:
            continue
        st = os.fstat(fd)
        if (st.st_dev, st.st_ino) in seen:
            os.close(fd)
            continue
        seen.add((st.st_dev, st.st_ino))
        opened.append((file_path, fd, st))
    opened.reverse()
    return opened


class _Splitter:
    """Cuts a stream of blocks into lines; holds a torn last line; caps long ones."""

    __slots__ = ("max_line", "held", "skipping", "skip_len", "preview")

    def __init__(self, max_line: int) -> None:
        self.max_line = max_line
        self.held = b""  # the bytes of an unfinished last line
        self.skipping = False  # inside a line already longer than max_line
        self.skip_len = 0
        self.preview = b""

    @property
    def pending(self) -> int:
        """Bytes read but not yet returned as lines."""
        return self.skip_len if self.skipping else len(self.held)

    def feed(self, data: bytes) -> list[Any]:
        """The complete lines in `held + data`: bytes, or TooLong markers."""
        lines: list[Any] = data.split(b"\n")
        rest = lines.pop()
        if self.skipping:
            if not lines:
                self.skip_len += len(data)
                return lines
            lines[0] = TooLong(self.skip_len + len(lines[0]), self.preview)
            self.skipping = False
            self.skip_len = 0
        elif self.held:
            if lines:
                lines[0] = self.held + lines[0]
            else:
                rest = self.held + rest
        max_line = self.max_line
        if max_line < len(data) + len(self.held):
            lines = [
                TooLong(len(line), line[:PREVIEW]) if line.__class__ is bytes and len(line) > max_line else line
                for line in lines
            ]
        if len(rest) > max_line:
            self.skipping = True
            self.skip_len = len(rest)
            self.preview = rest[:PREVIEW]
            rest = b""
        self.held = rest
        return lines

    def flush(self) -> list[Any]:
        """The unfinished last line as a line of its own (the file is finished)."""
        if self.skipping:
            line: Any = TooLong(self.skip_len, self.preview)
        elif self.held:
            line = self.held
        else:
            return []
        self.held, self.skipping, self.skip_len = b"", False, 0
        return [line]


def _line_length(line: Any) -> int:
    return line.length if line.__class__ is TooLong else len(line)


def _line_text(line: Any) -> bytes:
    return line.preview if line.__class__ is TooLong else line


# ---------------------------------------------------------------------------
# Bulk path


@dataclass(frozen=True, slots=True)
class Segment:
    """Lines of one open file that *start* in [start, end); end None means to EOF."""

    file: LogFile
    fd: int
    start: int
    end: int | None


class LogSet:
    """The rotated set, opened at once (oldest first) so renames cannot reorder it."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.files: list[LogFile] = []
        self.sizes: list[int] = []
        self._fds: list[int] = []
        for number, (file_path, fd, st) in enumerate(open_rotated_set(self.path)):
            self.files.append(LogFile(number, file_path, st.st_dev, st.st_ino))
            self.sizes.append(st.st_size)
            self._fds.append(fd)

    @property
    def total_bytes(self) -> int:
        return sum(self.sizes)

    def segments(self, parts: int = 1) -> list[list[Segment]]:
        """Split the set into `parts` runs of about equal bytes, in order, for parallel scans.

        A line belongs to the run in which it starts. A run that reaches the end of a
        file reads to its real end, so lines appended after the set was opened (to the
        live file, or a last line to a just-rotated one) are included.
        """
        total = self.total_bytes
        parts = max(1, parts)
        bounds = [total * k // parts for k in range(parts + 1)]
        runs: list[list[Segment]] = []
        last = len(self.files) - 1
        for part in range(parts):
            low, high = bounds[part], bounds[part + 1]
            run: list[Segment] = []
            base = 0
            for index, (info, fd, size) in enumerate(zip(self.files, self._fds, self.sizes)):
                start, stop = max(low, base), min(high, base + size)
                if start < stop or (index == last and part == parts - 1):
                    end = None if stop >= base + size else stop - base
                    run.append(Segment(info, fd, max(0, start - base), end))
                base += size
            runs.append(run)
        return runs

    def close(self) -> None:
        for fd in self._fds:
            try:
                os.close(fd)
            except OSError:
                pass
        self._fds = []

    def __enter__(self) -> LogSet:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class EventScan:
    """Iterate the parsed events of some segments, one list per block read.

    `prefilter`: lines not containing these bytes are skipped before parsing (a fast
    way to pick one session); they are not checked for being malformed either.
    `progress(nbytes)` is called after each block.
    """

    SAMPLES = 5

    def __init__(
        self,
        segments: Iterable[Segment],
        *,
        prefilter: bytes | None = None,
        block_size: int = BLOCK_SIZE,
        max_line: int = MAX_LINE,
        progress: Callable[[int], None] | None = None,
    ) -> None:
        self.segments = list(segments)
        self.prefilter = prefilter
        self.block_size = block_size
        self.max_line = max_line
        self.progress = progress
        self.malformed = 0
        self.samples: list[Record] = []
        self.bytes_read = 0

    def __iter__(self) -> Iterator[list[dict[str, Any]]]:
        for segment in self.segments:
            yield from self._scan(segment)

    def _scan(self, seg: Segment) -> Iterator[list[dict[str, Any]]]:
        fd, block, end, progress = seg.fd, self.block_size, seg.end, self.progress
        splitter = _Splitter(self.max_line)
        pos = seg.start
        # A segment starting inside a line leaves that line to the previous segment.
        skip_first = pos > 0 and os.pread(fd, 1, pos - 1) != b"\n"
        while True:
            data = os.pread(fd, block, pos)
            if data:
                pos += len(data)
                self.bytes_read += len(data)
                lines = splitter.feed(data)
            else:
                lines = splitter.flush()
            done = not data
            if end is not None and pos >= end:
                # Past the end: keep the lines that start before it, then stop.
                line_start = pos - splitter.pending - sum(map(_line_length, lines)) - len(lines)
                kept = 0
                for line in lines:
                    if line_start >= end:
                        break
                    line_start += _line_length(line) + 1
                    kept += 1
                if kept < len(lines) or line_start >= end:
                    del lines[kept:]
                    done = True
            if skip_first and lines:
                del lines[0]
                skip_first = False
            if lines:
                yield self._parse(lines, seg.file)
            if progress is not None and data:
                progress(len(data))
            if done:
                return

    def _parse(self, lines: list[Any], file: LogFile) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        append = out.append
        loads = _loads
        prefilter = self.prefilter
        for line in lines:
            if prefilter is not None and prefilter not in _line_text(line):
                continue
            try:
                obj = loads(line)
            except _DecodeError:
                self._malformed(line, file)
                continue
            if obj.__class__ is dict:
                kind = obj.get("type")
                if kind.__class__ is str and kind:
                    append(obj)
                    continue
            self._malformed(line, file)
        return out

    def _malformed(self, line: Any, file: LogFile) -> None:
        event, problem = classify(line)
        if problem is None:
            return  # a blank line
        self.malformed += 1
        if len(self.samples) < self.SAMPLES:
            # The offset is not tracked on the bulk path; -1 says so.
            text = _line_text(line)[:PREVIEW]
            self.samples.append(Record(file.id, -1, _line_length(line), None, problem, text))


# ---------------------------------------------------------------------------
# Incremental path


class Batch:
    """Lines read from one file in one go, column by column (cheap to index)."""

    __slots__ = ("file", "offsets", "lengths", "events", "problems", "texts")

    def __init__(self, file: int, keep_text: bool) -> None:
        self.file = file
        self.offsets = array("q")
        self.lengths = array("q")
        self.events: list[dict[str, Any] | None] = []  # None where the line is malformed
        self.problems: dict[int, tuple[str, bytes]] = {}  # index -> (problem, capped text)
        self.texts: list[bytes] | None = [] if keep_text else None

    def __len__(self) -> int:
        return len(self.events)

    def __iter__(self) -> Iterator[Record]:
        texts = self.texts
        for index, event in enumerate(self.events):
            problem, text = self.problems.get(index, (None, None))
            if texts is not None and text is None:
                text = texts[index]
            yield Record(self.file, self.offsets[index], self.lengths[index], event, problem, text)

    def add(self, line: Any, offset: int) -> None:
        event, problem = classify(line)
        if event is None and problem is None:
            return  # blank
        index = len(self.events)
        self.offsets.append(offset)
        self.lengths.append(_line_length(line))
        self.events.append(event)
        if problem is not None:
            self.problems[index] = (problem, _line_text(line)[:PREVIEW])
        if self.texts is not None:
            self.texts.append(_line_text(line))


class _Followed:
    """One open file being read incrementally: fd, identity and how far we got."""

    __slots__ = ("info", "fd", "read_pos", "line_start", "splitter")

    def __init__(self, info: LogFile, fd: int, max_line: int, start: int = 0) -> None:
        self.info = info
        self.fd = fd
        self.read_pos = start  # next byte to read
        self.line_start = start  # offset of the first byte not yet returned as a line
        self.splitter = _Splitter(max_line)

    def read(self, block: int, keep_text: bool, final: bool = False) -> Iterator[Batch]:
        while True:
            data = os.pread(self.fd, block, self.read_pos)
            lines = self.splitter.feed(data) if data else []
            self.read_pos += len(data)
            if not data and final:
                lines = self.splitter.flush()
            if lines:
                yield self._batch(lines, keep_text)
            if not data:
                return

    def _batch(self, lines: list[Any], keep_text: bool) -> Batch:
        batch = Batch(self.info.id, keep_text)
        offset = self.line_start
        for line in lines:
            batch.add(line, offset)
            offset += _line_length(line) + 1
        self.line_start = offset
        return batch

    def truncated(self) -> bool:
        """The file shrank below what we read (copy-truncate): start over at 0."""
        try:
            size = os.fstat(self.fd).st_size
        except OSError:
            return False
        if size >= self.read_pos:
            return False
        self.read_pos = self.line_start = 0
        self.splitter = _Splitter(self.splitter.max_line)
        return True


class LogReader:
    """Follow a log set like `tail -F`, returning each line exactly once.

    `start="beginning"` first returns the whole rotated set, oldest first;
    `start="end"` returns only lines appended after the reader was created (see
    `backlog()` for the last few). `poll()` returns the new records since the
    last call; call it whenever the directory changes (watchfiles) or on a timer.
    When the live file is renamed away, the old file is drained to its end, the
    new one is read from 0, and the old one is checked once more on the next poll
    (a writer may still append its last line to the file it just renamed).
    `notices` collects human-readable notes (rotation, truncation) for a status line.

    `keep_open=True` keeps every file's descriptor so `read_line()` works even after
    the file rotated away or was deleted; call `forget(file_id)` when a view no
    longer needs a file. `keep_text=True` keeps the raw bytes of every line.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        start: str = "beginning",
        keep_open: bool = False,
        keep_text: bool = False,
        block_size: int = BLOCK_SIZE,
        max_line: int = MAX_LINE,
    ) -> None:
        if start not in ("beginning", "end"):
            raise ValueError(f"start must be 'beginning' or 'end', not {start!r}")
        self.path = Path(path)
        self.keep_open = keep_open
        self.keep_text = keep_text
        self.block_size = block_size
        self.max_line = max_line
        self.files: dict[int, LogFile] = {}
        self.malformed = 0
        self.rotations = 0
        self.notices: deque[str] = deque(maxlen=100)
        self._baseline: set[tuple[int, int]] = set()
        self._fds: dict[int, int] = {}
        self._live: _Followed | None = None
        self._queue: list[_Followed] = []  # finished files to read completely, oldest first
        self._retiring: list[_Followed] = []  # renamed-away files to drain once more
        self._next_id = 0
        self._open_initial(start)

    # -- public API ------------------------------------------------------------

    @property
    def exists(self) -> bool:
        """Whether any file of the set has been found yet."""
        return bool(self.files)

    def poll(self) -> list[Record]:
        """All records appended since the last call, in order."""
        return [record for batch in self.poll_batches() for record in batch]

    def poll_batches(self) -> Iterator[Batch]:
        """Like poll(), as column batches (one per file and block): for big backlogs."""
        block, keep_text = self.block_size, self.keep_text
        while self._queue:
            followed = self._queue[0]
            yield from self._counted(followed.read(block, keep_text, final=True))
            self._queue.pop(0)
            self._done_with(followed)
        retiring, self._retiring = self._retiring, []
        for followed in retiring:
            yield from self._counted(followed.read(block, keep_text, final=True))
            self._done_with(followed)
        live = self._live
        if live is not None:
            if live.truncated():
                self.notices.append(f"{live.info.path}: file truncated, reading from the start")
            yield from self._counted(live.read(block, keep_text))
        yield from self._check_rotation()

    def read_line(self, file_id: int, offset: int, length: int) -> bytes | None:
        """Re-read a line's bytes by its record's location; None if the file is gone."""
        fd = self._fds.get(file_id)
        if fd is not None:
            return os.pread(fd, length, offset)
        fd = self._reopen(file_id)
        if fd is None:
            return None
        try:
            return os.pread(fd, length, offset)
        finally:
            if self.keep_open:
                self._fds[file_id] = fd
            else:
                os.close(fd)

    def forget(self, file_id: int) -> None:
        """Close a finished file's descriptor (read_line then finds it by path, if it still exists)."""
        if self._live is not None and self._live.info.id == file_id:
            return
        if any(f.info.id == file_id for f in self._queue + self._retiring):
            return
        fd = self._fds.pop(file_id, None)
        if fd is not None:
            os.close(fd)

    def backlog(self, count: int, accept: Callable[[Record], bool] | None = None,
                max_bytes: int = 64 << 20) -> list[Record]:
        """The last `count` accepted records before the start position (start="end").

        Looks back through the live file and then the rotated ones, at most
        `max_bytes` in all. Records come oldest first. Call it before the first poll.
        """
        if count <= 0:
            return []
        found: list[list[Record]] = []
        have = 0
        budget = max_bytes
        candidates: list[tuple[LogFile, int, int]] = []
        if self._live is not None:
            candidates.append((self._live.info, self._live.fd, self._live.line_start))
        for info, fd, size in self._older_files():
            candidates.append((info, fd, size))
        for info, fd, limit in candidates:
            if budget > 0 and have < count:
                records = self._tail_of(info, fd, limit, count - have, accept, budget)
                budget -= limit
                found.append(records)
                have += len(records)
            if not self.keep_open and (self._live is None or info.id != self._live.info.id):
                self.forget(info.id)
        ordered = [record for records in reversed(found) for record in records]
        return ordered[-count:]

    def close(self) -> None:
        for fd in self._fds.values():
            try:
                os.close(fd)
            except OSError:
                pass
        self._fds.clear()
        self._live = None
        self._queue.clear()
        self._retiring.clear()

    def __enter__(self) -> LogReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals ---------------------------------------------------------------

    def _counted(self, batches: Iterator[Batch]) -> Iterator[Batch]:
        for batch in batches:
            self.malformed += len(batch.problems)
            yield batch

    def _open(self, path: Path) -> tuple[LogFile, int] | None:
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError:
            return None
        st = os.fstat(fd)
        for info in self.files.values():
            if (info.dev, info.ino) == (st.st_dev, st.st_ino) and info.id in self._fds:
                os.close(fd)
                return info, self._fds[info.id]
        info = LogFile(self._next_id, path, st.st_dev, st.st_ino)
        self._next_id += 1
        self.files[info.id] = info
        self._fds[info.id] = fd
        return info, fd

    def _known(self, dev: int, ino: int) -> bool:
        return (dev, ino) in self._baseline or any(
            (info.dev, info.ino) == (dev, ino) for info in self.files.values()
        )

    def _open_initial(self, start: str) -> None:
        if start == "end":
            # What exists now is history: never read it as "missed" later.
            for path in rotated_set(self.path):
                try:
                    st = os.stat(path)
                except OSError:
                    continue
                self._baseline.add((st.st_dev, st.st_ino))
            opened = self._open(self.path)
            if opened is not None:
                info, fd = opened
                size = os.fstat(fd).st_size
                begin = _after_last_newline(fd, size)
                self._live = _Followed(info, fd, self.max_line, begin)
            return
        for path, fd, st in open_rotated_set(self.path):
            info = LogFile(self._next_id, path, st.st_dev, st.st_ino)
            self._next_id += 1
            self.files[info.id] = info
            self._fds[info.id] = fd
            followed = _Followed(info, fd, self.max_line)
            if path == self.path:
                self._live = followed
            else:
                self._queue.append(followed)

    def _check_rotation(self) -> Iterator[Batch]:
        """Has the live name moved to another file? Then switch, losing and repeating nothing."""
        live = self._live
        try:
            st = os.stat(self.path)
        except OSError:
            return  # renamed away and not recreated yet: keep reading the old file
        if live is not None and (st.st_dev, st.st_ino) == (live.info.dev, live.info.ino):
            return
        block, keep_text = self.block_size, self.keep_text
        if live is not None:
            # Drain what was written before the rename; check once more on the next poll.
            yield from self._counted(live.read(block, keep_text))
            self._retiring.append(live)
            self.rotations += 1
            self.notices.append(f"{self.path}: rotated")
        # Files created and rotated away between two polls (oldest first).
        for missed in self._missed_since(live.info if live is not None else None):
            yield from self._counted(missed.read(block, keep_text))
            self._retiring.append(missed)
        opened = self._open(self.path)
        if opened is None:
            self._live = None
            return
        info, fd = opened
        self._live = _Followed(info, fd, self.max_line)
        yield from self._counted(self._live.read(block, keep_text))

    def _missed_since(self, old: LogFile | None) -> list[_Followed]:
        # A file whose inode number was reused from one we knew long ago would be taken
        # for known here; that needs two rotations between polls *and* inode reuse.
        missed: list[_Followed] = []
        number = 1
        while True:
            path = self.path.with_name(f"{self.path.name}.{number}")
            try:
                st = os.stat(path)
            except OSError:
                break
            if self._known(st.st_dev, st.st_ino):
                break
            opened = self._open(path)
            if opened is None:
                break
            missed.append(_Followed(opened[0], opened[1], self.max_line))
            number += 1
        missed.reverse()
        return missed

    def _done_with(self, followed: _Followed) -> None:
        if not self.keep_open:
            fd = self._fds.pop(followed.info.id, None)
            if fd is not None:
                os.close(fd)

    def _reopen(self, file_id: int) -> int | None:
        """Find a file we closed by its identity among the set's current names."""
        info = self.files.get(file_id)
        if info is None:
            return None
        for path in rotated_set(self.path):
            try:
                fd = os.open(path, os.O_RDONLY)
            except OSError:
                continue
            st = os.fstat(fd)
            if (st.st_dev, st.st_ino) == (info.dev, info.ino):
                return fd
            os.close(fd)
        return None

    def _older_files(self) -> list[tuple[LogFile, int, int]]:
        """Rotated files, newest first, opened for backlog()."""
        opened = []
        for path in reversed([p for p in rotated_set(self.path) if p != self.path]):
            found = self._open(path)
            if found is not None and (self._live is None or found[0].id != self._live.info.id):
                opened.append((found[0], found[1], os.fstat(found[1]).st_size))
        return opened

    def _tail_of(self, info: LogFile, fd: int, limit: int, count: int,
                 accept: Callable[[Record], bool] | None, budget: int) -> list[Record]:
        """The last `count` accepted records of bytes [0, limit) of one file."""
        window = 64 << 10
        while True:
            begin = max(0, limit - window)
            if begin > 0:
                begin = _after_newline_from(fd, begin)
            records = self._records_between(info, fd, begin, limit)
            if accept is not None:
                records = [record for record in records if accept(record)]
            if len(records) >= count or begin == 0 or window >= budget:
                return records[-count:]
            window *= 4

    def _records_between(self, info: LogFile, fd: int, begin: int, end: int) -> list[Record]:
        followed = _Followed(info, fd, self.max_line, begin)
        out: list[Record] = []
        pos = begin
        while pos < end:
            data = os.pread(fd, min(self.block_size, end - pos), pos)
            if not data:
                break
            pos += len(data)
            lines = followed.splitter.feed(data)
            if lines:
                out.extend(followed._batch(lines, self.keep_text))
        tail = followed.splitter.flush()
        if tail:
            out.extend(followed._batch(tail, self.keep_text))
        return out


def _after_last_newline(fd: int, size: int) -> int:
    """Offset just after the last newline before `size` (0 if none): where whole lines end."""
    pos = size
    step = 64 << 10
    while pos > 0:
        begin = max(0, pos - step)
        data = os.pread(fd, pos - begin, begin)
        cut = data.rfind(b"\n")
        if cut >= 0:
            return begin + cut + 1
        pos = begin
    return 0


def _after_newline_from(fd: int, offset: int) -> int:
    """The first line start at or after `offset`."""
    if offset == 0 or os.pread(fd, 1, offset - 1) == b"\n":
        return offset
    pos = offset
    while True:
        data = os.pread(fd, 64 << 10, pos)
        if not data:
            return pos
        cut = data.find(b"\n")
        if cut >= 0:
            return pos + cut + 1
        pos += len(data)
