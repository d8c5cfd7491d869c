"""Append-only JSONL file with size rotation, shared by threads and processes.

Every event is one `os.write` of complete lines to an `O_APPEND` descriptor,
so concurrent writers never interleave inside a line. Rotation renames
(`production.jsonl` -> `.1` -> ... -> `.N-1`, the oldest deleted) under an
exclusive `flock` on a sidecar `production.jsonl.lock`.

Finding out that *another* process rotated must not cost a system call per
event (a `stat` here costs as much as the write itself), so the lock file is
also a tiny shared memory page holding a rotation generation counter: each
rotation bumps it, and every write compares it with the generation its
descriptor was opened at -- a memory read. A `stat` of the path every
`path_check_interval` seconds catches what the counter cannot see: the file
or its directory deleted or replaced from outside.

Failures (full disk, read-only or deleted directory) never raise: the lines
are counted as dropped, a warning is logged once per outage, and every later
write tries again, so logging resumes by itself when the problem goes away.
"""

from __future__ import annotations

import fcntl
import logging
import mmap
import os
import struct
import threading
import time
import weakref
from dataclasses import dataclass
from pathlib import Path

_log = logging.getLogger("obra_monitor")

_GENERATION = struct.Struct("<Q")
_LOCK_FILE_SIZE = _GENERATION.size
# Size is checked once this many bytes were written since the last check, so
# N processes can overshoot max_bytes by at most N/64 of it (plus a line).
_SIZE_CHECKS_PER_FILE = 64
_OPEN_FLAGS = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC

_live_writers: weakref.WeakSet[RotatingWriter] = weakref.WeakSet()


def lock_path_for(path: Path) -> Path:
    return path.with_name(path.name + ".lock")


def rotated_path(path: Path, index: int) -> Path:
    return path.with_name(f"{path.name}.{index}")


@dataclass
class WriterCounts:
    lines_written: int = 0
    lines_dropped: int = 0
    rotations: int = 0


class RotatingWriter:
    """Thread-safe, process-safe appender of complete JSON lines."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        max_bytes: int,
        max_files: int,
        *,
        path_check_interval: float = 1.0,
    ) -> None:
        if max_bytes < 1 or max_files < 1:
            raise ValueError("max_bytes and max_files must be at least 1")
        self.path = Path(path)
        self.max_bytes = max_bytes
        self.max_files = max_files
        self.path_check_interval = path_check_interval
        self.counts = WriterCounts()
        self._check_every = max(1, max_bytes // _SIZE_CHECKS_PER_FILE)
        self._lock = threading.Lock()
        self._fd: int | None = None
        self._lock_fd: int | None = None
        self._shared: mmap.mmap | None = None
        self._generation = 0
        self._identity: tuple[int, int] = (0, 0)
        self._unchecked_bytes = 0
        self._next_path_check = 0.0
        self._failing = False
        self._closed = False
        _live_writers.add(self)

    def write(self, data: bytes, lines: int = 1) -> bool:
        """Append `data` (complete lines); False when it had to be dropped."""
        with self._lock:
            if self._closed:
                self.counts.lines_dropped += lines
                return False
            try:
                if (self._fd is None or self._shared is None
                        or _GENERATION.unpack_from(self._shared)[0] != self._generation
                        or time.monotonic() >= self._next_path_check):
                    self._ensure_current()
                written = os.write(self._fd, data)  # type: ignore[arg-type]
                if written != len(data):
                    raise OSError(f"short write ({written} of {len(data)} bytes)")
                self._unchecked_bytes += written
                if self._unchecked_bytes >= self._check_every:
                    self._rotate_if_full()
            except OSError as exc:
                self._fail(exc, lines)
                return False
            self.counts.lines_written += lines
            if self._failing:
                self._failing = False
                _log.warning("obra-monitor: writing %s again; %d events were dropped so far",
                             self.path, self.counts.lines_dropped)
            return True

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._release()

    # -- keeping the descriptor pointed at the live file -----------------------------

    def _ensure_current(self) -> None:
        """Reopen what changed; write() calls this only when something may have."""
        if self._fd is None or self._shared is None:
            self._open_all()
        elif self._shared_generation() != self._generation:
            self._open_log()
        elif time.monotonic() >= self._next_path_check:
            self._check_path()

    def _check_path(self) -> None:
        try:
            stat = os.stat(self.path)
        except FileNotFoundError:
            self._open_all()  # deleted, perhaps with its directory: start afresh
            return
        if (stat.st_dev, stat.st_ino) != self._identity:
            self._open_all()  # replaced from outside (an external rotation tool)
            return
        self._schedule_path_check()

    def _open_all(self) -> None:
        self._release()
        _make_private_dirs(self.path.parent)
        lock_fd = os.open(lock_path_for(self.path), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(lock_fd, fcntl.LOCK_EX)
            try:
                if os.fstat(lock_fd).st_size < _LOCK_FILE_SIZE:
                    os.ftruncate(lock_fd, _LOCK_FILE_SIZE)
            finally:
                fcntl.flock(lock_fd, fcntl.LOCK_UN)
            self._shared = mmap.mmap(lock_fd, _LOCK_FILE_SIZE)
        except BaseException:
            os.close(lock_fd)
            raise
        self._lock_fd = lock_fd
        self._open_log()

    def _open_log(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        self._generation = self._shared_generation()
        self._fd = os.open(self.path, _OPEN_FLAGS, 0o600)
        stat = os.fstat(self._fd)
        self._identity = (stat.st_dev, stat.st_ino)
        # An existing file may already be full: check its size on the first write.
        self._unchecked_bytes = self._check_every if stat.st_size else 0
        self._schedule_path_check()

    def _schedule_path_check(self) -> None:
        self._next_path_check = time.monotonic() + self.path_check_interval

    def _shared_generation(self) -> int:
        return _GENERATION.unpack_from(self._shared, 0)[0]  # type: ignore[arg-type]

    # -- rotation ---------------------------------------------------------------------

    def _rotate_if_full(self) -> None:
        self._unchecked_bytes = 0
        if os.lseek(self._fd, 0, os.SEEK_END) < self.max_bytes:  # type: ignore[arg-type]
            return
        fcntl.flock(self._lock_fd, fcntl.LOCK_EX)  # type: ignore[arg-type]
        try:
            # Another process may have rotated while we waited for the lock.
            if self._shared_generation() == self._generation and self._live_file_is_full():
                self._shift_files()
                _GENERATION.pack_into(self._shared, 0, self._generation + 1)  # type: ignore[arg-type]
                self.counts.rotations += 1
            self._open_log()
        finally:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)  # type: ignore[arg-type]

    def _live_file_is_full(self) -> bool:
        try:
            stat = os.stat(self.path)
        except FileNotFoundError:
            return False
        return (stat.st_dev, stat.st_ino) == self._identity and stat.st_size >= self.max_bytes

    def _shift_files(self) -> None:
        keep = self.max_files - 1  # rotated files kept beside the live one
        if keep == 0:
            os.unlink(self.path)
            return
        existing = 0
        while existing < keep and rotated_path(self.path, existing + 1).exists():
            existing += 1
        if existing == keep:
            _unlink_if_present(rotated_path(self.path, keep))
            existing -= 1
        for index in range(existing, 0, -1):
            os.rename(rotated_path(self.path, index), rotated_path(self.path, index + 1))
        os.rename(self.path, rotated_path(self.path, 1))

    # -- failures and teardown --------------------------------------------------------

    def _fail(self, exc: OSError, lines: int) -> None:
        self.counts.lines_dropped += lines
        self._release()  # the next write reopens from scratch
        if not self._failing:
            self._failing = True
            _log.warning("obra-monitor: cannot write %s (%s); events are dropped and counted "
                         "until it works again", self.path, exc)

    def _release(self) -> None:
        if self._shared is not None:
            self._shared.close()
            self._shared = None
        for fd in (self._fd, self._lock_fd):
            if fd is not None:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self._fd = self._lock_fd = None

    def _after_fork_in_child(self) -> None:
        # The child shares the parent's open file descriptions, and with them
        # the flock: it needs descriptors of its own, opened on its next write.
        # The thread lock may be held by a parent thread that does not exist here.
        self._lock = threading.Lock()
        self._release()


def _make_private_dirs(directory: Path) -> None:
    """Create missing directories 0700 (os.makedirs gives the mode to the leaf only)."""
    missing = []
    while not directory.is_dir():
        missing.append(directory)
        directory = directory.parent
    for new in reversed(missing):
        try:
            new.mkdir(mode=0o700)
        except FileExistsError:
            pass  # another process made it meanwhile; a file there fails the open next


def _unlink_if_present(path: Path) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def _reset_writers_after_fork() -> None:
    for writer in list(_live_writers):
        writer._after_fork_in_child()


os.register_at_fork(after_in_child=_reset_writers_after_fork)
