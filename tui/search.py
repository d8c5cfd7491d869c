"""Text search over the log: which rows contain a string, found by reading the file.

A search looks for the text in the raw JSON lines, case-insensitively when the
text is ASCII. The text is JSON-escaped first, so a search for `say "hi"` finds
the line `{"input":"say \\"hi\\""}`. Rows are read in long runs (one pread for
thousands of consecutive lines) and matched with bytes.find, so a search of a
million rows is a few seconds of background work; rows appended later are
matched as they arrive (`check`).
"""

from __future__ import annotations

import threading
from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Callable

import orjson

from tui.log import EventLog


def needle_for(text: str) -> tuple[bytes, bool]:
    """The bytes to look for in raw lines, and whether to compare lower-cased."""
    escaped = orjson.dumps(text)[1:-1]
    fold = escaped.isascii()
    return (escaped.lower() if fold else escaped), fold


class Search:
    """One search: its text, the rows found so far (ascending), and its progress."""

    def __init__(self, text: str, rows: int) -> None:
        self.text = text
        self.needle, self.fold = needle_for(text)
        self.stop = rows  # the scan covers rows [0, stop); later rows go through check()
        self.scanned = 0
        self.done = rows == 0
        self.found = array("i")  # rows < stop, appended by the scanning thread
        self.live = array("i")  # rows >= stop
        self.cancelled = threading.Event()

    @property
    def count(self) -> int:
        return len(self.found) + len(self.live)

    @property
    def progress(self) -> float:
        return 1.0 if self.done or not self.stop else self.scanned / self.stop

    def matches(self, raw: bytes) -> bool:
        return self.needle in (raw.lower() if self.fold else raw)

    def check(self, log: EventLog, start: int, stop: int) -> None:
        """Match rows [start, stop) appended after the search began (UI thread)."""
        for row in range(max(start, self.stop), stop):
            raw = log.read(row)
            if raw is not None and self.matches(raw):
                self.live.append(row)

    def scan(self, log: EventLog, progress: Callable[[], None] | None = None) -> None:
        """Find the matching rows among [0, stop) (a worker thread)."""
        index = log.index
        offsets, lengths = index.offsets, index.lengths
        needle, fold, size = self.needle, self.fold, len(self.needle)
        found = self.found
        for first, end, _slot in index.runs(0, self.stop):
            if self.cancelled.is_set():
                return
            begin = offsets[first]
            span = offsets[end - 1] + lengths[end - 1] - begin
            data = log.read_span(first, span)
            if data is None:
                self.scanned = end
                continue
            if fold:
                data = data.lower()
            at = data.find(needle)
            while at >= 0:
                row = bisect_right(offsets, begin + at, first, end) - 1
                row_end = offsets[row] + lengths[row] - begin
                if at + size <= row_end:
                    found.append(row)
                    at = data.find(needle, row_end + 1)
                else:  # between lines (blank ones): not in a row
                    at = data.find(needle, at + 1)
            self.scanned = end
            if progress is not None:
                progress()
        self.done = True
        if progress is not None:
            progress()

    def next(self, row: int, forward: bool, accept: Callable[[int], bool]) -> int | None:
        """The nearest accepted match after (or before) `row`, wrapping around."""
        found, live = self.found, self.live
        ordered = list(found) + list(live) if len(found) + len(live) < 4096 else None
        if ordered is not None:
            return _nearest(ordered, row, forward, accept)
        # Big result sets: walk from the bisection point without copying.
        for matches in ((found, live) if forward else (live, found)):
            for candidate in _walk(matches, row, forward):
                if accept(candidate):
                    return candidate
        for matches in ((found, live) if forward else (live, found)):
            for candidate in (matches if forward else reversed(matches)):
                if accept(candidate):
                    return candidate
        return None


def _nearest(ordered: list[int], row: int, forward: bool, accept: Callable[[int], bool]) -> int | None:
    if forward:
        cut = bisect_right(ordered, row)
        sequence = ordered[cut:] + ordered[:cut]
    else:
        cut = bisect_left(ordered, row)
        sequence = ordered[:cut][::-1] + ordered[cut:][::-1]
    for candidate in sequence:
        if accept(candidate):
            return candidate
    return None


def _walk(matches: array, row: int, forward: bool):  # type: ignore[no-untyped-def]
    if forward:
        for i in range(bisect_right(matches, row), len(matches)):
            yield matches[i]
    else:
        for i in range(bisect_left(matches, row) - 1, -1, -1):
            yield matches[i]
