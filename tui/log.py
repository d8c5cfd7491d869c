"""The log the TUI shows: one index over the history and the live file, one Stats.

`EventLog` owns the live `LogReader` (start="end", following the file through
rotation), the `EventIndex` of every line shown, and the `Stats` every figure
comes from. It knows nothing about Textual; the app calls:

- `open()`: index the newest lines at once (the reader's backlog), so the first
  screen needs no full scan, and plan the history (everything older);
- `poll(budget)`: index and aggregate what was appended (the reader does the
  reading and follows rotation), a bounded amount of work per call;
- `adopt_history(...)`: put the history in front when the background job
  (tui/history.py) has loaded it;
- `read(position)`, `parse(position)`, `turn_of(position)`: re-read lines for
  what is on screen and for the detail view.

Listeners (`listeners`, called as `listener(first_row, events, live)`) see the
events as they are indexed: the backlog from `open()` (live=False), then every
batch `poll()` reads (live=True); `events[i]` is row `first_row + i` (None for a
malformed line). The panels and alert banners are fed this way, without
re-reading or re-parsing a line.

Row positions: rows are numbered in log order from 0. While the history loads,
row 0 is the first backlog line; adopting the history shifts every row by its
length (the app moves its cursor and scroll position by as much).
"""

from __future__ import annotations

import os
import sys
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

from obra_monitor import events as ev
from obra_monitor.reader import MAX_LINE, PREVIEW, TOO_LONG, LogReader, classify
from obra_monitor.stats import Stats
from tui.history import History, HistoryPlan, plan_history
from tui.index import EventIndex, kind_of

TAIL = 1000  # newest lines shown before the history is loaded
RATE_WINDOW = 10.0  # seconds over which the event rate is measured
TURN_WINDOW = 20_000  # rows looked at around an event to gather its turn


class EventLog:
    def __init__(self, path: str | os.PathLike[str], *, tail: int = TAIL,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.path = Path(path)
        self.tail = tail
        self.clock = clock
        self.reader = LogReader(self.path, start="end", keep_open=True)
        self.index = EventIndex()
        self.stats = Stats(partial=True)  # partial until the history's stats are merged in
        self.history: HistoryPlan | None = None
        self.history_rows = 0  # rows of the history, once adopted
        self.history_loaded = False
        self.malformed = 0  # malformed lines among the tail and live ones (+ history once merged)
        self.exists = self.path.exists()
        self._sources: list[Callable[[int, int], bytes | None]] = []
        self._reader_slots: dict[int, int] = {}
        self._batches: Any = None  # a poll_batches() generator left unfinished by a budget
        self._arrivals: deque[tuple[float, int]] = deque()
        self.listeners: list[Callable[[int, list[dict[str, Any] | None], bool], None]] = []

    # -- lifecycle ---------------------------------------------------------------

    def open(self) -> int:
        """Index the newest lines and plan the history; returns the number of rows."""
        records = self.reader.backlog(self.tail)
        for record in records:
            slot = self._slot_for(record.file)
            self.index.append(slot, record.offset, record.length,
                              kind_of(record.event), self.index.session_id(_session(record.event)))
            if record.event is None:
                self.malformed += 1
        self.stats.add_many([record.event for record in records if record.event is not None])
        if records:
            for listener in self.listeners:
                listener(0, [record.event for record in records], False)
        boundary = None
        if records and len(records) >= self.tail:
            first = records[0]
            info = self.reader.files[first.file]
            boundary = (info.dev, info.ino, first.offset)
        self.history = plan_history(self.path, boundary, self._add_fd_source)
        if self.history is None:
            self.history_loaded = True
            self.stats.partial = False
        return len(self.index)

    def close(self) -> None:
        self.reader.close()
        if self.history is not None:
            self.history.log_set.close()

    # -- live ----------------------------------------------------------------------

    def poll(self, budget: float = 0.05) -> tuple[int, bool]:
        """Index what was appended: (rows added, whether more is waiting).

        Stops after about `budget` seconds so a huge append cannot freeze the screen;
        call again (soon) while `more` is true.
        """
        start = len(self.index)
        deadline = time.perf_counter() + budget
        if self._batches is None:
            self._batches = self.reader.poll_batches()
        more = False
        for batch in self._batches:
            slot = self._slot_for(batch.file)
            first = len(self.index)
            self.index.add_events(slot, batch.offsets, batch.lengths, batch.events)
            self.stats.add_many([event for event in batch.events if event is not None])
            for listener in self.listeners:
                listener(first, batch.events, True)
            self.malformed += len(batch.problems)
            if time.perf_counter() > deadline:
                more = True
                break
        if not more:
            self._batches = None
            self.exists = self.path.exists()
        added = len(self.index) - start
        if added:
            self._arrivals.append((self.clock(), added))
        return added, more

    def rate(self) -> float:
        """Events appended per second over the last RATE_WINDOW seconds."""
        now = self.clock()
        arrivals = self._arrivals
        while arrivals and arrivals[0][0] < now - RATE_WINDOW:
            arrivals.popleft()
        return sum(count for _, count in arrivals) / RATE_WINDOW

    def notices(self) -> list[str]:
        """Reader notes (rotation, truncation) since the last call."""
        notes = list(self.reader.notices)
        self.reader.notices.clear()
        return notes

    # -- history -------------------------------------------------------------------

    def adopt_history(self, history: History) -> int:
        """Put the loaded history in front of the rows and its statistics before the figures.

        Returns how many rows were added (every row so far moves down by as many).
        """
        count = len(history.index)
        self.index.prepend(history.index)
        merged = history.stats
        merged.merge(self.stats)
        merged.partial = False
        self.stats = merged
        self.malformed += history.malformed
        self.history_rows = count
        self.history_loaded = True
        _settle_memory()
        return count

    @property
    def loaded(self) -> bool:
        return self.history_loaded

    # -- reading -------------------------------------------------------------------

    def read(self, position: int, limit: int = MAX_LINE) -> bytes | None:
        """The raw bytes of a row (at most `limit`); None if its file is gone."""
        slot, offset, length = self.index.location(position)
        try:
            return self._sources[slot](offset, min(length, limit))
        except OSError:
            return None

    def read_span(self, position: int, length: int) -> bytes | None:
        """`length` bytes of a row's file from the row's start (several rows at once)."""
        slot, offset, _length = self.index.location(position)
        try:
            return self._sources[slot](offset, length)
        except OSError:
            return None

    def parse(self, position: int) -> tuple[dict[str, Any] | None, str | None, bytes]:
        """(event, problem, raw bytes) of a row, re-read from its file."""
        length = self.index.lengths[position]
        if length > MAX_LINE:
            raw = self.read(position, PREVIEW) or b""
            return None, TOO_LONG, raw
        raw = self.read(position)
        if raw is None:
            return None, "file no longer readable", b""
        event, problem = classify(raw)
        if event is None and problem is None:
            problem = "blank line"
        return event, problem, raw

    def turn_of(self, position: int) -> list[int]:
        """Rows of the turn `position` belongs to (same session and turn), in order.

        Looks at most TURN_WINDOW rows either way, only at rows of the same session.
        Without `turn` (older loggers), a turn runs from a user_input to the next.
        """
        event, _problem, _raw = self.parse(position)
        session = self.index.sessions[position]
        if event is None or session < 0:
            return [position]
        turn = event.get(ev.TURN)
        has_turn = turn.__class__ is int
        sessions = self.index.sessions
        user_input = ev.EventType.USER_INPUT.value
        before: list[int] = []
        low = max(0, position - TURN_WINDOW)
        if event.get(ev.TYPE) != user_input or has_turn:
            for row in range(position - 1, low - 1, -1):
                if sessions[row] != session:
                    continue
                other = self.parse(row)[0]
                if other is None:
                    continue
                if has_turn:
                    other_turn = other.get(ev.TURN)
                    if other_turn.__class__ is int and other_turn < turn:
                        break
                    if other_turn == turn:
                        before.append(row)
                else:
                    before.append(row)
                    if other.get(ev.TYPE) == user_input:
                        break
        after: list[int] = []
        high = min(len(self.index), position + TURN_WINDOW + 1)
        for row in range(position + 1, high):
            if sessions[row] != session:
                continue
            other = self.parse(row)[0]
            if other is None:
                continue
            if has_turn:
                other_turn = other.get(ev.TURN)
                if other_turn.__class__ is int and other_turn > turn:
                    break
                if other_turn == turn:
                    after.append(row)
            else:
                if other.get(ev.TYPE) == user_input:
                    break
                after.append(row)
        return before[::-1] + [position] + after

    # -- sources -------------------------------------------------------------------

    def _slot_for(self, file_id: int) -> int:
        slot = self._reader_slots.get(file_id)
        if slot is None:
            read_line = self.reader.read_line
            slot = self._reader_slots[file_id] = len(self._sources)
            self._sources.append(lambda offset, length: read_line(file_id, offset, length))
        return slot

    def _add_fd_source(self, fd: int) -> int:
        self._sources.append(lambda offset, length: os.pread(fd, length, offset))
        return len(self._sources) - 1


def _session(event: dict[str, Any] | None) -> Any:
    return event.get(ev.SESSION) if event is not None else None


def _settle_memory() -> None:
    """After loading a big history: keep the garbage collector off it, give freed heap back.

    The history's statistics are ~100k long-lived containers; a full collection walking
    them takes tens of milliseconds, a visible stall between an append and its row on
    screen. gc.freeze() moves everything alive now out of the collector's way (it is
    never garbage: it lives as long as the monitor). Then malloc_trim returns the heap
    that loading freed (glibc keeps it otherwise, and the resident size stays at its peak).
    """
    import gc

    gc.collect()
    gc.freeze()
    if sys.platform != "linux":
        return
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass
