"""The compact event index: where every line of the log is, and what it is.

One row per non-blank line, in log order, kept in parallel arrays (about 19 bytes
a row, so a million events cost ~20 MB): the source slot (which open file), byte
offset and length, a kind code (the event type, "other", or malformed) and a
session number. The text itself is never kept: views re-read the few lines they
show (see `EventLog.read`). Type filters are computed from the kinds column with
C-speed operations (bytes.translate + itertools.compress), so toggling a type
on a million rows takes milliseconds, not a Python loop.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Iterator
from itertools import compress
from typing import Any

from obra_monitor import events as ev

# Kind codes: the six schema types in schema order, then unknown types and malformed lines.
TYPES: tuple[str, ...] = tuple(kind.value for kind in ev.EventType)
OTHER = len(TYPES)  # an event whose type the schema does not know
MALFORMED = OTHER + 1  # a line that is not an event
KIND_NAMES: tuple[str, ...] = TYPES + ("other", "malformed")
ALL_KINDS = frozenset(range(len(KIND_NAMES)))
CODES: dict[str, int] = {name: code for code, name in enumerate(TYPES)}

NO_SESSION = -1
MAX_LENGTH = (1 << 31) - 1
FIND_SESSIONS = 8  # up to this many sessions, their rows are found with bytes.find


def kind_of(event: dict[str, Any] | None) -> int:
    """The kind code of a parsed event (None: a malformed line)."""
    if event is None:
        return MALFORMED
    return CODES.get(event.get(ev.TYPE), OTHER)  # type: ignore[arg-type]


class EventIndex:
    """Parallel arrays, one row per line; append-only, except `prepend`."""

    __slots__ = ("slots", "offsets", "lengths", "kinds", "sessions", "session_names", "_session_ids",
                 "_rows_cache")

    def __init__(self) -> None:
        self.slots = array("H")  # which source (open file) the line is in
        self.offsets = array("q")
        self.lengths = array("i")
        self.kinds = bytearray()
        self.sessions = array("i")  # index into session_names, NO_SESSION if none
        self.session_names: list[str] = []
        self._session_ids: dict[str, int] = {}
        self._rows_cache: tuple[tuple[object, ...], array] | None = None

    def __len__(self) -> int:
        return len(self.kinds)

    # -- filling ---------------------------------------------------------------

    def session_id(self, session: Any) -> int:
        """The number of a session id (assigned on first sight); NO_SESSION if not a string."""
        if session.__class__ is not str:
            return NO_SESSION
        number = self._session_ids.get(session)
        if number is None:
            number = self._session_ids[session] = len(self.session_names)
            self.session_names.append(session)
        return number

    def append(self, slot: int, offset: int, length: int, kind: int, session: int) -> None:
        self.slots.append(slot)
        self.offsets.append(offset)
        self.lengths.append(min(length, MAX_LENGTH))
        self.kinds.append(kind)
        self.sessions.append(session)

    def add_events(self, slot: int, offsets: Iterable[int], lengths: Iterable[int],
                   events: list[dict[str, Any] | None]) -> None:
        """Rows for parsed lines of one source (None events are malformed lines)."""
        count = len(events)
        self.slots.extend(array("H", [slot]) * count)
        self.offsets.extend(offsets)
        self.lengths.extend(min(length, MAX_LENGTH) for length in lengths)
        session_id, codes, session_key, type_key = self.session_id, CODES, ev.SESSION, ev.TYPE
        kinds: list[int] = []
        sessions: list[int] = []
        for event in events:
            if event is None:
                kinds.append(MALFORMED)
                sessions.append(NO_SESSION)
            else:
                kinds.append(codes.get(event.get(type_key), OTHER))  # type: ignore[arg-type]
                sessions.append(session_id(event.get(session_key)))
        self.kinds.extend(kinds)
        self.sessions.extend(sessions)

    def extend(self, later: EventIndex) -> None:
        """Append `later`'s rows (the part of the log after these); `later` is consumed."""
        remap = [self.session_id(name) for name in later.session_names]
        if remap == list(range(len(remap))):
            sessions = later.sessions
        else:
            sessions = array("i", [remap[s] if s >= 0 else NO_SESSION for s in later.sessions])
        self.slots.extend(later.slots)
        self.offsets.extend(later.offsets)
        self.lengths.extend(later.lengths)
        self.kinds.extend(later.kinds)
        self.sessions.extend(sessions)

    def prepend(self, older: EventIndex) -> None:
        """Put `older` (the history) in front of these rows; `older` is consumed."""
        remap = [older.session_id(name) for name in self.session_names]
        sessions = array("i", [remap[s] if s >= 0 else NO_SESSION for s in self.sessions])
        older.slots.extend(self.slots)
        older.offsets.extend(self.offsets)
        older.lengths.extend(self.lengths)
        older.kinds.extend(self.kinds)
        older.sessions.extend(sessions)
        self.slots, self.offsets, self.lengths = older.slots, older.offsets, older.lengths
        self.kinds, self.sessions = older.kinds, older.sessions
        self.session_names, self._session_ids = older.session_names, older._session_ids

    # -- reading ---------------------------------------------------------------

    def location(self, position: int) -> tuple[int, int, int]:
        """(slot, offset, length) of a row."""
        return self.slots[position], self.offsets[position], self.lengths[position]

    def session_name(self, position: int) -> str | None:
        number = self.sessions[position]
        return self.session_names[number] if number >= 0 else None

    def session_number(self, name: str) -> int | None:
        """The number of a session id seen so far (numbers change when the history is prepended)."""
        return self._session_ids.get(name)

    def positions(self, kinds: frozenset[int], start: int = 0, sessions: frozenset[int] | None = None) -> array:
        """Rows from `start` on whose kind is in `kinds` (and session in `sessions`, unless None),
        as array('i')."""
        table = bytes(1 if code in kinds else 0 for code in range(256))
        if sessions is not None:
            rows = self.session_rows(sessions, start)
            if len(kinds) == len(KIND_NAMES):
                return rows
            return array("i", compress(rows, map(table.__getitem__, map(self.kinds.__getitem__, rows))))
        mask = self.kinds[start:].translate(table)
        return array("i", compress(range(start, len(self.kinds)), mask))

    def session_rows(self, sessions: frozenset[int], start: int = 0) -> array:
        """Rows from `start` on of these sessions (numbers), ascending, found at C speed:
        bytes.find of each number in the column for a few sessions, a set lookup per row
        for many."""
        column, end = self.sessions, len(self.sessions)
        if start >= end or not sessions:
            return array("i")
        key = (sessions, start, end, id(column))  # the stream and the panels ask the same, in a row
        cached = self._rows_cache
        if cached is not None and cached[0] == key:
            return array("i", cached[1])
        rows = self._session_rows(sessions, start, end)
        self._rows_cache = (key, rows)
        return array("i", rows)

    def _session_rows(self, sessions: frozenset[int], start: int, end: int) -> array:
        column = self.sessions
        if len(sessions) > FIND_SESSIONS or end - start < 1024:
            return array("i", compress(range(start, end), map(sessions.__contains__, column[start:])))
        data = column[start:].tobytes()
        size = column.itemsize
        found: list[int] = []
        for number in sessions:
            needle = array("i", [number]).tobytes()
            at = data.find(needle)
            while at >= 0:
                if at % size:  # straddles two rows: not a match
                    at = data.find(needle, at + 1)
                    continue
                found.append(start + at // size)
                at = data.find(needle, at + size)
        found.sort()
        return array("i", found)

    def kind_counts(self) -> list[int]:
        return [self.kinds.count(code) for code in range(len(KIND_NAMES))]

    def runs(self, start: int, stop: int, max_bytes: int = 4 << 20) -> Iterator[tuple[int, int, int]]:
        """Split rows [start, stop) into (first, end, slot) runs of one source whose lines
        follow each other in the file and span at most about `max_bytes`: each run can be
        read with one pread (used by search)."""
        slots, offsets, lengths = self.slots, self.offsets, self.lengths
        first = start
        while first < stop:
            slot = slots[first]
            begin = offsets[first]
            end = first + 1
            previous = begin
            while end < stop and slots[end] == slot and offsets[end] > previous \
                    and offsets[end] + lengths[end] - begin <= max_bytes:
                previous = offsets[end]
                end += 1
            yield first, end, slot
            first = end
