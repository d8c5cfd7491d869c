"""The sessions panel: every session with its counters; picking sessions filters the stream.

Rows come from the log's `Stats` (one small state per session: events, errors,
turns, executions, first and latest ts) and `Stats.session_summary()` computes
what a row shows, so the figures are the ones `analyze` and `session` print.
`SessionList` is a Line API scroll view like the stream: only the rows on
screen are formatted, so 10,000 (or 100,000) sessions cost a screenful.

Order (`o` cycles): most recent activity first, most errors first, most turns
first. Keeping 60,000 sessions sorted by a full sort on every update would cost
tens of milliseconds each time, so `SessionOrder` moves the sessions that had
events since the last update to the front (recent-activity order: a session's
latest event is the newest), and re-sorts in full only when the order or the
statistics object changes, or, for the other orders, at most every
RESORT_SECONDS.

Keys in the list: ↑↓ move, Enter shows only the session under the cursor ("All
sessions" clears the filter), Space adds or removes it (several sessions),
`o` cycles the order, `/` types an id prefix (Enter in it picks every session
with that prefix), Escape returns to the stream.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

from rich.style import Style
from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.widget import Widget
from textual.widgets import Input, Static

from obra_monitor.render import clean_text, clock
from obra_monitor.stats import Stats

RESORT_SECONDS = 2.0
BUDGET = 40  # an update costing t waits at least BUDGET * t before the next: <= 2.5% of the time
ORDER_LABELS = {"last": "latest activity", "errors": "most errors", "turns": "most turns"}
INCREMENTAL_LIMIT = 5000  # more touched sessions than this: a full sort is cheaper


class SessionOrder:
    """The sessions in display order, kept up to date cheaply."""

    def __init__(self, clock_: Callable[[], float] = time.monotonic) -> None:
        self.order = "last"
        self.ids: list[str] = []
        self.clock = clock_
        self._touched: dict[str, None] = {}  # sessions with events since the last refresh, newest last
        self._stats: Stats | None = None
        self._events = -1
        self._sorted_at = -1e9
        self._sort_cost = 0.0
        self._moved_at = -1e9
        self._move_cost = 0.0
        self._stale = True

    def touch(self, sessions: Iterable[str]) -> None:
        touched = self._touched
        for session in sessions:
            touched.pop(session, None)
            touched[session] = None

    def cycle(self) -> str:
        orders = Stats.SESSION_ORDERS
        self.order = orders[(orders.index(self.order) + 1) % len(orders)]
        self._stale = True
        return self.order

    def refresh(self, stats: Stats) -> bool:
        """Bring `ids` up to date; True if it changed. Each kind of update waits BUDGET times
        its last cost before it runs again (60,000 sessions: a full sort costs ~60 ms)."""
        now = self.clock()
        if stats is not self._stats or self._stale:
            return self._full(stats, now)
        if not self._touched and stats.events == self._events:
            return False
        if self.order == "last" and len(self._touched) <= INCREMENTAL_LIMIT:
            if now - self._moved_at < BUDGET * self._move_cost:
                return False
            touched = self._touched
            self.ids = list(reversed(touched)) + [s for s in self.ids if s not in touched]
            self._touched = {}
            self._events = stats.events
            self._moved_at, self._move_cost = now, self.clock() - now
            return True
        if now - self._sorted_at >= max(RESORT_SECONDS, BUDGET * self._sort_cost):
            return self._full(stats, now)
        return False

    def _full(self, stats: Stats, now: float) -> bool:
        self.ids = stats.session_ids(self.order)
        self._stats, self._events, self._sorted_at, self._stale = stats, stats.events, now, False
        self._touched = {}
        self._sort_cost = self.clock() - now
        return True


def when(ts: Any, today: str | None) -> str:
    """HH:MM:SS of a ts on the newest event's day, else its date (`Dec 03`); 8 characters."""
    if not isinstance(ts, str) or len(ts) < 19:
        return "–"
    if today is not None and ts[:10] != today:
        months = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()
        try:
            return f"{months[int(ts[5:7]) - 1]} {ts[8:10]}"
        except (ValueError, IndexError):
            return clean_text(ts[:8])
    return clock(ts)[:8]


# (name, header, width, minimum list width to show it), in the order they are dropped
COLUMNS = (("errors", "err", 4, 0), ("ok", "ok%", 5, 0), ("turns", "turns", 6, 34),
           ("events", "events", 7, 42), ("first", "first", 9, 51))


def columns_for(width: int) -> list[tuple[str, str, int]]:
    return [(name, header, size) for name, header, size, minimum in COLUMNS if width >= minimum]


def header_text(width: int) -> Text:
    line = Text(no_wrap=True, overflow="ellipsis", style="dim")
    line.append(f"  {'session':<8} {'latest':<8}")
    shown = {name: (header, size) for name, header, size in columns_for(width)}
    for name in ("first", "turns", "events", "errors", "ok"):
        if name in shown:
            header, size = shown[name]
            line.append(f"{header:>{size}}" if name != "first" else f" {header:<{size - 1}}")
    return line


def row_text(session: str, summary: dict[str, Any], width: int, selected: bool, today: str | None) -> Text:
    line = Text(no_wrap=True, overflow="ellipsis")
    line.append("✓ " if selected else "  ", "bold green")
    line.append(f"{clean_text(session)[:8]:<8}", "bold" if selected else "")
    line.append(f" {when(summary['last_ts'], today):<8}", "dim")
    shown = {name: size for name, _header, size in columns_for(width)}
    if "first" in shown:
        line.append(f" {when(summary['first_ts'], today):<8}", "dim")
    if "turns" in shown:
        line.append(f"{summary['turns']:>{shown['turns']},}")
    if "events" in shown:
        line.append(f"{summary['events']:>{shown['events']},}", "dim")
    errors = summary["errors"]
    line.append(f"{errors:>{shown['errors']},}", "bold red" if errors else "dim")
    rate = summary["success_rate"]
    if rate is None:
        line.append(f"{'–':>{shown['ok']}}", "dim")
    else:
        style = "green" if rate >= 0.9 else "yellow" if rate >= 0.75 else "bold red"
        line.append(f"{rate * 100:>{shown['ok'] - 1}.0f}%", style)
    return line


class SessionList(ScrollView, can_focus=True):
    """"All sessions", then every session (prefix-filtered), one line each, rendered when visible."""

    BINDINGS = [
        Binding("up,k", "cursor_up", "Up", show=False),
        Binding("down,j", "cursor_down", "Down", show=False),
        Binding("pageup", "page_up", "Page up", show=False),
        Binding("pagedown", "page_down", "Page down", show=False),
        Binding("home", "first", "First", show=False),
        Binding("end", "last", "Last", show=False),
        Binding("enter", "choose", "Only this"),
        Binding("space", "toggle", "Add/remove"),
        Binding("o", "cycle_order", "Sort"),
        Binding("slash", "prefix", "Id prefix"),
        Binding("escape", "leave", "Stream"),
    ]

    COMPONENT_CLASSES = {"sessions--cursor"}

    DEFAULT_CSS = """
    SessionList {
        overflow-x: hidden;
        overflow-y: auto;
    }
    """

    class Chosen(Message):
        """Enter: show only this session (None: every session)."""

        def __init__(self, session: str | None) -> None:
            super().__init__()
            self.session = session

    class Toggled(Message):
        """Space: add the session to the filter, or take it out (None: clear the filter)."""

        def __init__(self, session: str | None) -> None:
            super().__init__()
            self.session = session

    class Moved(Message):
        """The cursor moved (the summary follows it)."""

    class Leave(Message):
        """Escape: back to the stream."""

    def __init__(self, stats: Callable[[], Stats], *, id: str | None = None) -> None:  # noqa: A002
        super().__init__(id=id)
        self.stats = stats
        self.names: list[str] = []
        self.cursor = 0  # row 0 is "All sessions"
        self.selected: frozenset[str] | None = None
        self.today: str | None = None
        self._strips: dict[tuple[Any, ...], Strip] = {}
        self._style_cache: tuple[Style, Style] | None = None

    # -- rows ------------------------------------------------------------------------------

    @property
    def row_count(self) -> int:
        return len(self.names) + 1

    @property
    def cursor_session(self) -> str | None:
        return self.names[self.cursor - 1] if 1 <= self.cursor <= len(self.names) else None

    def set_names(self, names: list[str]) -> None:
        """New rows (order, prefix or counts changed): the cursor stays on its session."""
        keep = self.cursor_session
        self.names = names
        if keep is not None:
            try:
                self.cursor = names.index(keep) + 1
            except ValueError:
                self.cursor = min(self.cursor, len(names))
        self.virtual_size = Size(self.scrollable_content_region.width, self.row_count)
        self._scroll_to_cursor()
        self.refresh()

    def set_selected(self, selected: frozenset[str] | None) -> None:
        self.selected = selected
        self.refresh()

    # -- actions ---------------------------------------------------------------------------

    def action_cursor_up(self) -> None:
        self._move(self.cursor - 1)

    def action_cursor_down(self) -> None:
        self._move(self.cursor + 1)

    def action_page_up(self) -> None:
        self._move(self.cursor - max(1, self.scrollable_content_region.height - 1))

    def action_page_down(self) -> None:
        self._move(self.cursor + max(1, self.scrollable_content_region.height - 1))

    def action_first(self) -> None:
        self._move(0)

    def action_last(self) -> None:
        self._move(self.row_count - 1)

    def action_choose(self) -> None:
        self.post_message(self.Chosen(self.cursor_session))

    def action_toggle(self) -> None:
        self.post_message(self.Toggled(self.cursor_session))

    def action_cycle_order(self) -> None:
        panel = self.parent
        if isinstance(panel, SessionsPanel):
            panel.cycle_order()

    def action_prefix(self) -> None:
        panel = self.parent
        if isinstance(panel, SessionsPanel):  # at once: the keys typed next go to the box
            focus_now(panel.query_one("#sessions-prefix", Input))

    def action_leave(self) -> None:
        self.post_message(self.Leave())

    def on_click(self, event: events.Click) -> None:
        row = round(self.scroll_y) + event.y
        if 0 <= row < self.row_count:
            self._move(row)
            if event.chain == 2:
                self.action_choose()

    def on_resize(self, _event: events.Resize) -> None:
        self.virtual_size = Size(self.scrollable_content_region.width, self.row_count)

    # -- rendering -------------------------------------------------------------------------

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        base, cursor = self._styles()
        row = round(self.scroll_y) + y
        if row >= self.row_count:
            return Strip.blank(width, base)
        is_cursor = row == self.cursor
        text, key = self._row(row, width)
        key = (key, is_cursor, width)
        strip = self._strips.get(key)
        if strip is not None:
            return strip
        style = cursor if is_cursor else base
        text.stylize_before(style)
        strip = Strip(list(text.render(self.app.console)), text.cell_len).crop(0, width)
        strip = strip.extend_cell_length(width, style)
        if len(self._strips) > 1024:
            self._strips.clear()
        self._strips[key] = strip
        return strip

    def _styles(self) -> tuple[Style, Style]:
        if self._style_cache is None:
            base = self.rich_style
            self._style_cache = (base, base + self.get_component_rich_style("sessions--cursor"))
        return self._style_cache

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._style_cache = None
        self._strips.clear()

    def on_focus(self) -> None:
        self._style_cache = None
        self._strips.clear()
        self.refresh()

    def on_blur(self) -> None:
        self.on_focus()

    def _row(self, row: int, width: int) -> tuple[Text, tuple[Any, ...]]:
        """A row's text and what it depends on (the key of its rendered strip)."""
        if row == 0:
            key: tuple[Any, ...] = (None, self.selected is None, len(self.stats().sessions))
            return self.row_text(0, width), key
        session = self.names[row - 1]
        summary = self.stats().session_summary(session)
        selected = self.selected is not None and session in self.selected
        key = (session, selected, self.today, tuple(summary.values()) if summary else None)
        if summary is None:  # the statistics were replaced and do not know it (yet)
            return Text(f"  {clean_text(session)[:8]}", no_wrap=True), key
        return row_text(session, summary, width, selected, self.today), key

    def row_text(self, row: int, width: int) -> Text:
        if row == 0:
            line = Text(no_wrap=True, overflow="ellipsis")
            line.append("✓ " if self.selected is None else "  ", "bold green")
            line.append("All sessions", "bold")
            line.append(f"  {len(self.stats().sessions):,}", "dim")
            return line
        session = self.names[row - 1]
        summary = self.stats().session_summary(session)
        if summary is None:  # the statistics were replaced and do not know it (yet)
            return Text(f"  {clean_text(session)[:8]}", no_wrap=True)
        selected = self.selected is not None and session in self.selected
        return row_text(session, summary, width, selected, self.today)

    def rendered_lines(self) -> list[str]:
        """The plain text of the rows on screen (tests)."""
        top = round(self.scroll_y)
        width = self.scrollable_content_region.width
        return [self.row_text(row, width).plain.rstrip()
                for row in range(top, min(self.row_count, top + self.size.height))]

    # -- internals -------------------------------------------------------------------------

    def _move(self, row: int) -> None:
        row = max(0, min(self.row_count - 1, row))
        if row != self.cursor:
            old, self.cursor = self.cursor, row
            top = round(self.scroll_y)
            self._scroll_to_cursor()
            if round(self.scroll_y) == top:  # only the two rows change
                self.refresh_line(old)
                self.refresh_line(row)
            else:
                self.refresh()
            self.post_message(self.Moved())

    def _scroll_to_cursor(self) -> None:
        height = max(1, self.scrollable_content_region.height)
        top = round(self.scroll_y)
        if self.cursor < top:
            self.scroll_to(y=self.cursor, animate=False, immediate=True)
        elif self.cursor >= top + height:
            self.scroll_to(y=self.cursor - height + 1, animate=False, immediate=True)


class SessionsPanel(Vertical):
    """Title, id-prefix box, column header, the list, and the summary of the picked sessions.

    `on_filter(sessions)` is called with the sessions picked (None: all), `on_moved()` when
    the cursor moves, `on_leave()` on Escape.
    """

    def __init__(self, stats: Callable[[], Stats], *, on_filter: Callable[[frozenset[str] | None], None],
                 on_moved: Callable[[], None], on_leave: Callable[[], None],
                 id: str | None = None) -> None:  # noqa: A002
        super().__init__(id=id)
        self.stats = stats
        self.on_filter = on_filter
        self.on_moved = on_moved
        self.on_leave = on_leave
        self.ordering = SessionOrder()
        self.prefix = ""

    @property
    def today(self) -> str | None:
        """The newest event's day (YYYY-MM-DD): times on it show as HH:MM:SS, others as dates."""
        return self.list.today

    @today.setter
    def today(self, day: str | None) -> None:
        if day != self.list.today:
            self.list.today = day
            self.list.refresh()

    def compose(self) -> ComposeResult:
        yield Static(id="sessions-title")
        yield Input(placeholder="/ id prefix (Enter picks them)", id="sessions-prefix")
        yield Static(id="sessions-header")
        yield SessionList(self.stats, id="sessions-list")
        yield Static(id="sessions-summary")

    @property
    def list(self) -> SessionList:
        return self.query_one(SessionList)

    def touch(self, sessions: Iterable[str]) -> None:
        self.ordering.touch(sessions)

    def update(self, force: bool = False) -> None:
        """Bring the rows up to date (cheap when nothing changed)."""
        stats = self.stats()
        changed = self.ordering.refresh(stats) or force
        session_list = self.list
        if changed:
            ids = self.ordering.ids
            if self.prefix:
                ids = [s for s in ids if s.startswith(self.prefix)]
            session_list.set_names(ids)
        else:
            session_list.refresh()
        self._title(stats)
        width = session_list.scrollable_content_region.width or 40
        _show(self.query_one("#sessions-header", Static), header_text(width))

    def cycle_order(self) -> None:
        """The next order, shown from its top."""
        self.ordering.cycle()
        session_list = self.list
        session_list.cursor = 0
        self.update(force=True)
        session_list.scroll_to(y=0, animate=False, immediate=True)
        session_list._move(1)

    def set_prefix(self, prefix: str) -> None:
        self.prefix = prefix.strip().lower()
        self.update(force=True)

    def show_summary(self, text: Text) -> None:
        _show(self.query_one("#sessions-summary", Static), text)

    def _title(self, stats: Stats) -> None:
        line = Text(no_wrap=True, overflow="ellipsis")
        line.append("Sessions ", "bold")
        shown = len(self.list.names)
        total = len(stats.sessions)
        line.append(f"{shown:,}" if not self.prefix else f"{shown:,} of {total:,}", "bold cyan")
        line.append(f" · {ORDER_LABELS[self.ordering.order]}", "dim")
        selected = self.list.selected
        if selected is not None:
            line.append(f" · {len(selected):,} picked", "bold yellow")
        _show(self.query_one("#sessions-title", Static), line)

    @on(Input.Changed, "#sessions-prefix")
    def _prefix_changed(self, message: Input.Changed) -> None:
        message.stop()
        self.set_prefix(message.value)

    @on(Input.Submitted, "#sessions-prefix")
    def _prefix_submitted(self, message: Input.Submitted) -> None:
        message.stop()
        focus_now(self.list)
        if not self.prefix:
            self.on_filter(None)
            return
        matches = [s for s in self.ordering.ids if s.startswith(self.prefix)]
        if not matches:
            self.app.notify(f"No session id starts with {clean_text(self.prefix, 40)!r}", timeout=2, markup=False)
            return
        self.on_filter(frozenset(matches))

    @on(SessionList.Chosen)
    def _chosen(self, message: SessionList.Chosen) -> None:
        message.stop()
        self.on_filter(None if message.session is None else frozenset({message.session}))

    @on(SessionList.Toggled)
    def _toggled(self, message: SessionList.Toggled) -> None:
        message.stop()
        if message.session is None:
            self.on_filter(None)
            return
        picked = set(self.list.selected or ()) ^ {message.session}
        self.on_filter(frozenset(picked) or None)

    @on(SessionList.Moved)
    def _moved(self, message: SessionList.Moved) -> None:
        message.stop()
        self.on_moved()

    @on(SessionList.Leave)
    def _leave(self, message: SessionList.Leave) -> None:
        message.stop()
        self.on_leave()

    def on_key(self, event: events.Key) -> None:
        box = self.query_one("#sessions-prefix", Input)
        if event.key == "escape" and box.has_focus:
            event.stop()
            box.value = ""
            focus_now(self.list)
        elif event.key == "down" and box.has_focus:
            event.stop()
            focus_now(self.list)


def summary_text(label: str | None, figures: dict[str, Any] | None, counters: dict[str, Any] | None,
                 lines: int = 4) -> Text:
    """The session under the cursor (counters) and the picked sessions (`label`, with their P95s):
    two lines each; with room for two lines only, the picked sessions win."""
    from tui.latency import short_ms

    cursor = Text(no_wrap=True, overflow="ellipsis")
    if counters is not None:
        name, summary = counters["session"], counters["summary"]
        rate = summary["success_rate"]
        cursor.append(f"▸ {clean_text(name)[:8]}  ", "bold")
        cursor.append(f"{summary['turns']:,} turns · ")
        cursor.append("–" if rate is None else f"{rate:.0%} ok", "bold")
        cursor.append(f" · {summary['errors']:,} err", "bold red" if summary["errors"] else "dim")
        cursor.append(f"\n  {when(summary['first_ts'], None)}→{when(summary['last_ts'], None)}"
                      f" · {summary['events']:,} events", "dim")
    else:
        cursor.append("▸ All sessions\n  Enter here shows every session", "dim")
    picked = Text(no_wrap=True, overflow="ellipsis")
    if label is None:
        picked.append("No filter: every session shown\n  Enter: one only · Space: several", "dim")
    else:
        picked.append(f"✓ {label}: ", "bold yellow")
        if figures is None:
            picked.append("computing…", "italic dim")
        else:
            execution, latency = figures["execution"], figures["latency_ms"]
            rate = execution["success_rate"]
            picked.append(f"{figures['turns']:,} turns · ")
            picked.append("–" if rate is None else f"{rate:.0%} ok", "bold")
            picked.append(f"\n  P95 NL {short_ms(latency['nl']['p95'])} · exec {short_ms(latency['execution']['p95'])}")
    if lines < 4:
        return picked if label is not None or counters is None else cursor
    return Text("\n", no_wrap=True).join([cursor, picked])


def _show(widget: Static, text: Text) -> None:
    """Update a fixed-height Static only when its text changed, without a relayout."""
    if getattr(widget, "_shown_text", None) != text:
        widget._shown_text = text  # type: ignore[attr-defined]
        widget.update(text, layout=False)


def focus_now(widget: Widget) -> None:
    """Focus a widget now, not after the queued messages as Widget.focus does, so that
    the keys typed right after go to it."""
    try:
        widget.screen.set_focus(widget)
    except Exception:  # noqa: BLE001 - no screen (closing): nothing to focus
        pass
