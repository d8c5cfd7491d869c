"""The event stream: a scroll view that renders only the rows on screen.

`StreamView` is a Textual Line API widget (`ScrollView` + `render_line`): its
virtual height is the number of rows, and each visible line is rendered on
demand by re-reading that one log line (`EventLog.parse`) and formatting it
with `render.event_line` (the same line and palette as `tail`). Rendered lines
are kept in a small LRU cache, so a screen of a million-row log costs a
screenful of reads, not a million.

Rows are the index rows, or, when a type or session filter is on, the positions
of the rows of the chosen kinds and sessions (an array('i'), found from the
index's kind and session columns, never by re-reading lines). A cursor marks one row. In follow
mode the cursor stays on the newest row and new rows scroll into view; moving
up, scrolling up with the wheel or dragging the scrollbar pauses following and
counts the rows that arrive meanwhile; End or `f` resumes.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left
from collections import OrderedDict

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from obra_monitor.render import event_line, malformed_line
from tui.index import ALL_KINDS
from tui.log import EventLog
from tui.search import Search

TEXT_CACHE = 2048  # rendered rows kept (several screens)
STRIP_CACHE = 512


class StreamView(ScrollView, can_focus=True, inherit_bindings=False):
    """Every row of the log, one line each, rendered only when visible."""

    BINDINGS = [
        Binding("up,k", "cursor_up", "Up", show=False),
        Binding("down,j", "cursor_down", "Down", show=False),
        Binding("pageup,ctrl+b", "page_up", "Page up", show=False),
        Binding("pagedown,ctrl+f,space", "page_down", "Page down", show=False),
        Binding("home,g", "first", "Oldest", show=False),
        Binding("end,G", "last", "Newest", show=False),
        Binding("enter", "open", "Detail"),
    ]

    COMPONENT_CLASSES = {"stream--cursor", "stream--match", "stream--empty"}

    DEFAULT_CSS = """
    StreamView {
        overflow-x: hidden;
        overflow-y: scroll;
    }
    """

    follow: reactive[bool] = reactive(True, init=False)
    """Keep the newest row in view."""

    class Opened(Message):
        """Enter on a row: open its detail."""

        def __init__(self, position: int) -> None:
            super().__init__()
            self.position = position

    class Changed(Message):
        """Follow mode, the new-row count or the cursor changed (for the status bar)."""

    def __init__(self, log: EventLog, *, id: str | None = None) -> None:  # noqa: A002
        super().__init__(id=id)
        self.event_log = log
        self.kinds: frozenset[int] = ALL_KINDS
        self.sessions: frozenset[str] | None = None  # session ids shown; None = every session
        self.view: array | None = None  # positions shown when filtered; None = every row
        self.cursor = -1
        self.shown = 0  # index rows taken into account (later ones are not shown yet)
        self.new_rows = 0  # rows added while paused
        self.search: Search | None = None
        self.empty_message = "no events yet"
        self._texts: OrderedDict[tuple[int, int], Text] = OrderedDict()
        self._strips: OrderedDict[tuple[object, ...], Strip] = OrderedDict()
        self._style_cache: dict[str, Style] | None = None

    # -- rows ------------------------------------------------------------------------

    @property
    def row_count(self) -> int:
        return len(self.view) if self.view is not None else self.shown

    def position(self, row: int) -> int:
        return self.view[row] if self.view is not None else row

    def row_of(self, position: int) -> int:
        """The row showing `position`, or the nearest row after it (row_count if none)."""
        if self.view is None:
            return min(position, self.shown)
        return bisect_left(self.view, position)

    def shows(self, position: int) -> bool:
        """Whether the row of `position` is in the stream (not filtered out, already shown)."""
        if position >= self.shown:
            return False
        if self.view is None:
            return position >= 0
        row = bisect_left(self.view, position)
        return row < len(self.view) and self.view[row] == position

    @property
    def cursor_position(self) -> int | None:
        if 0 <= self.cursor < self.row_count:
            return self.position(self.cursor)
        return None

    def rows_added(self) -> None:
        """Show the index rows added since the last call (follow), or count them (paused)."""
        start, end = self.shown, len(self.event_log.index)
        if end <= start:
            return
        before = self.row_count
        if self.view is not None:
            self.view.extend(self.event_log.index.positions(self.kinds, start, self._session_numbers()))
        self.shown = end
        added = self.row_count - before
        if self.search is not None:
            self.search.check(self.event_log, start, end)
        self._resize()
        if not added:
            return
        if self.follow:
            self.cursor = self.row_count - 1
            self.scroll_to(y=self.max_scroll_y, animate=False, immediate=True)
        else:
            self.new_rows += added
            if self.cursor < 0:
                self.cursor = 0
        self.refresh()
        self.post_message(self.Changed())

    def rows_prepended(self, count: int) -> None:
        """`count` rows (the history) were put in front of every row: keep the same place."""
        if not count:
            return
        old_rows = self.row_count
        old_cursor = self.position(self.cursor) if 0 <= self.cursor < old_rows else None
        self.shown += count
        if self.view is not None:
            self.view = self._positions()
        added = self.row_count - old_rows
        if old_cursor is not None:
            self.cursor = self.row_of(old_cursor + count)
        self._resize()
        if self.follow:
            self.cursor = self.row_count - 1
            self.scroll_to(y=self.max_scroll_y, animate=False, immediate=True)
        else:
            self.scroll_to(y=self.scroll_y + added, animate=False, immediate=True)
        self.refresh()
        self.post_message(self.Changed())

    def set_kinds(self, kinds: frozenset[int]) -> None:
        """Show only rows of these kinds; the cursor stays on its event if still shown."""
        if kinds == self.kinds:
            return
        self.kinds = kinds
        self._refilter()

    def set_sessions(self, sessions: frozenset[str] | None) -> None:
        """Show only rows of these sessions (None: every session); the cursor stays on its event if still shown."""
        if sessions == self.sessions:
            return
        self.sessions = sessions
        self._refilter()

    @property
    def filtered(self) -> bool:
        return self.kinds != ALL_KINDS or self.sessions is not None

    def _refilter(self) -> None:
        keep = self.cursor_position
        screen_row = self.cursor - round(self.scroll_y)
        self.view = self._positions() if self.filtered else None
        self._resize()
        if self.follow or keep is None:
            self.cursor = self.row_count - 1
            self.scroll_to(y=self.max_scroll_y, animate=False, immediate=True)
        else:
            self.cursor = min(self.row_of(keep), self.row_count - 1)
            self.scroll_to(y=max(0, self.cursor - max(0, screen_row)), animate=False, immediate=True)
        self._strips.clear()
        self.refresh()
        self.post_message(self.Changed())

    def set_search(self, search: Search | None) -> None:
        self.search = search
        self._strips.clear()
        self.refresh()

    def go_to(self, position: int) -> None:
        """Put the cursor on the row of `position` (pausing), scrolled into view."""
        row = self.row_of(position)
        if row >= self.row_count:
            return
        self.pause()
        self._move_cursor(row, center=True)

    # -- follow ----------------------------------------------------------------------

    def pause(self) -> None:
        if self.follow:
            self.follow = False
            self.new_rows = 0
            self.post_message(self.Changed())

    def resume(self) -> None:
        self.new_rows = 0
        self.follow = True
        if self.row_count:
            self._move_cursor(self.row_count - 1)
        self.scroll_to(y=self.max_scroll_y, animate=False, immediate=True)
        self.post_message(self.Changed())

    # -- actions -----------------------------------------------------------------------

    def action_cursor_up(self) -> None:
        self.pause()
        self._move_cursor(self.cursor - 1)

    def action_cursor_down(self) -> None:
        if self.follow:
            return
        self._move_cursor(self.cursor + 1)

    def action_page_up(self) -> None:
        self.pause()
        self._move_cursor(self.cursor - max(1, self._page()))

    def action_page_down(self) -> None:
        if self.follow:
            return
        self._move_cursor(self.cursor + max(1, self._page()))

    def action_first(self) -> None:
        self.pause()
        self._move_cursor(0)

    def action_last(self) -> None:
        self.resume()

    def action_open(self) -> None:
        position = self.cursor_position
        if position is not None:
            self.pause()
            self.post_message(self.Opened(position))

    # -- mouse ---------------------------------------------------------------------------

    def on_mouse_scroll_up(self, _event: events.MouseScrollUp) -> None:
        self.pause()

    def on_click(self, event: events.Click) -> None:
        row = round(self.scroll_y) + event.y
        if 0 <= row < self.row_count:
            self.pause()
            self._move_cursor(row)
            if event.chain == 2:
                self.action_open()

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        if self.follow and new_value < old_value and self.is_vertical_scrollbar_grabbed:
            self.pause()

    def on_resize(self, _event: events.Resize) -> None:
        self._strips.clear()
        self._resize()
        if self.follow:
            self.scroll_to(y=self.max_scroll_y, animate=False, immediate=True)

    # -- rendering -----------------------------------------------------------------------

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        styles = self._styles()
        base = styles["base"]
        rows = self.row_count
        row = round(self.scroll_y) + y
        if not rows:
            if y == self.size.height // 2:
                text = Text(self.empty_message, style=styles["empty"], justify="center")
                return _strip(text.copy(), width, base, self.app.console)
            return Strip.blank(width, base)
        if row >= rows:
            return Strip.blank(width, base)
        position = self.position(row)
        slot, offset, _length = self.event_log.index.location(position)
        is_cursor = row == self.cursor
        search = self.search.text if self.search is not None else None
        key = (slot, offset, width, is_cursor, search)
        strip = self._strips.get(key)
        if strip is not None:
            self._strips.move_to_end(key)
            return strip
        text = self._text(position, slot, offset)
        if search or is_cursor:
            text = text.copy()
            if is_cursor:
                text.style = styles["cursor"]
            if search:
                text.highlight_words([search], styles["match"], case_sensitive=False)
        strip = _strip(text, width, styles["cursor"] if is_cursor else base, self.app.console)
        self._strips[key] = strip
        if len(self._strips) > STRIP_CACHE:
            self._strips.popitem(last=False)
        return strip

    def rendered_lines(self) -> list[str]:
        """The plain text of the rows on screen (what a user reads), top to bottom."""
        top = round(self.scroll_y)
        lines = []
        for row in range(top, min(self.row_count, top + self.size.height)):
            position = self.position(row)
            slot, offset, _length = self.event_log.index.location(position)
            lines.append(self._text(position, slot, offset).plain)
        return lines

    def clear_caches(self) -> None:
        self._texts.clear()
        self._strips.clear()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._style_cache = None
        self._texts.clear()
        self._strips.clear()

    def _styles(self) -> dict[str, Style]:
        """The base, cursor, match and empty-message styles (looked up once per style change)."""
        if self._style_cache is None:
            base = self.rich_style
            self._style_cache = {
                "base": base,
                "cursor": base + self.get_component_rich_style("stream--cursor"),
                "match": self.get_component_rich_style("stream--match"),
                "empty": base + self.get_component_rich_style("stream--empty"),
            }
        return self._style_cache

    # -- internals -----------------------------------------------------------------------

    def _text(self, position: int, slot: int, offset: int) -> Text:
        key = (slot, offset)
        text = self._texts.get(key)
        if text is not None:
            self._texts.move_to_end(key)
            return text
        event, problem, raw = self.event_log.parse(position)
        text = event_line(event) if event is not None else malformed_line(raw, problem)
        text.style = self._styles()["base"]  # rendered on the widget's background
        self._texts[key] = text
        if len(self._texts) > TEXT_CACHE:
            self._texts.popitem(last=False)
        return text

    def _session_numbers(self) -> frozenset[int] | None:
        if self.sessions is None:
            return None
        number = self.event_log.index.session_number
        return frozenset(n for n in map(number, self.sessions) if n is not None)

    def _positions(self) -> array:
        """Positions of the shown index rows of the chosen kinds and sessions."""
        positions = self.event_log.index.positions(self.kinds, 0, self._session_numbers())
        cut = bisect_left(positions, self.shown)
        return positions[:cut] if cut < len(positions) else positions

    def _page(self) -> int:
        return self.scrollable_content_region.height - 1

    def _resize(self) -> None:
        self.virtual_size = Size(self.scrollable_content_region.width, self.row_count)

    def _move_cursor(self, row: int, center: bool = False) -> None:
        rows = self.row_count
        if not rows:
            return
        row = max(0, min(rows - 1, row))
        old = self.cursor
        self.cursor = row
        height = max(1, self.scrollable_content_region.height)
        top = round(self.scroll_y)
        if center and not top <= row < top + height:
            self.scroll_to(y=max(0, row - height // 2), animate=False, immediate=True)
        elif row < top:
            self.scroll_to(y=row, animate=False, immediate=True)
        elif row >= top + height:
            self.scroll_to(y=row - height + 1, animate=False, immediate=True)
        if old != row:
            self.refresh()
            self.post_message(self.Changed())


def _strip(text: Text, width: int, base: Style, console) -> Strip:  # type: ignore[no-untyped-def]
    """One screen line: the text cut at `width` (an ellipsis marks the cut), padded with `base`."""
    if text.cell_len > width:
        strip = Strip(list(text.render(console))).crop(0, max(0, width - 1))
        return Strip.join([strip, Strip([Segment("…", text.get_style_at_offset(console, width - 1))], 1)])
    return Strip(list(text.render(console)), text.cell_len).extend_cell_length(width, base)
