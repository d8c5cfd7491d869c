"""`obra-monitor tui`: the live event stream of a production log.

Layout, top to bottom: the status bar; the alert banners (shown while there
are any); the body, a row holding the stream and the side panels (sessions
and latency stats, `s` and `l`); the type-filter bar; the search input (shown
by `/`); the footer. The panels and banners are wired in `tui/panels.py`.

How data flows: `EventLog.open()` indexes the newest lines (the first screen
needs nothing else); a watchfiles worker calls `_changed()` on every change in
the log's directory, which polls the reader and schedules a stream update (at
most UPDATES_PER_SECOND, however fast the writer is); a background job loads
the history (index and statistics, in worker processes) and hands it to the
log on the UI thread when done.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterable
from pathlib import Path

from textual import events, on
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Footer, Input

from obra_monitor.config import AlertRules
from tui.bars import KEY_KINDS, KEY_LABELS, Status, StatusBar, TypeBar
from tui.history import History, load_history
from tui.index import ALL_KINDS, CODES
from tui.log import TAIL, EventLog
from tui.panels import Panels
from tui.search import Search
from tui.stream import StreamView
from tui.watcher import watch

UPDATES_PER_SECOND = 20
ERROR_CODE = CODES["error"]
BUSY_UPDATES_PER_SECOND = 10  # when every update brings a screenful of new rows anyway
BUSY_ROWS = 100  # rows per update above which the log counts as busy
POLL_BUDGET = 0.03  # seconds of reading per poll before the screen gets a turn


class MonitorApp(App[None]):
    """Watch a production log live."""

    CSS_PATH = "app.tcss"
    TITLE = "obra-monitor"

    BINDINGS = [
        Binding("f", "toggle_follow", "Follow"),
        Binding("slash", "search", "Search"),
        Binding("n", "next_match", "Next match"),
        Binding("N", "previous_match", "Prev match", show=False),
        *(Binding(str(number), f"toggle_kind({number - 1})", "Types" if number == 1 else label,
                  show=number == 1, key_display="1-7" if number == 1 else None)
          for number, label in enumerate(KEY_LABELS, start=1)),
        Binding("0", "all_kinds", "All types", show=False),
        Binding("e", "next_error", "Next error", show=False),
        Binding("E", "previous_error", "Previous error", show=False),
        Binding("s", "toggle_sessions", "Sessions"),
        Binding("l", "toggle_latency", "Latency"),
        Binding("w", "toggle_window", "Window/whole", show=False),
        Binding("a", "jump_alert", "Go to alert", show=False),
        Binding("x", "dismiss_alert", "Dismiss", show=False),
        Binding("X", "dismiss_alerts", "Dismiss all", show=False),
        Binding("escape", "clear_search", "Clear search", show=False),
        Binding("question_mark", "help", "Help"),
        Binding("q", "quit", "Quit"),
        Binding("ctrl+c", "quit", "Quit", show=False, priority=True),
    ]

    def __init__(self, path: str | Path, *, tail: int = TAIL, processes: int | None = None,
                 watch_files: bool = True, display_name: str | None = None,
                 rules: AlertRules | None = None, alert_history: bool = False) -> None:
        super().__init__()
        self.path = Path(path)
        self.display_name = display_name or self.path.name
        self.processes = processes
        self.watch_files = watch_files
        self.event_log = EventLog(self.path, tail=tail)
        self.search: Search | None = None
        self._cancel = threading.Event()
        self._stop_watch = asyncio.Event()
        self._flush_timer: Timer | None = None
        self._last_flush = 0.0
        self._last_flush_rows = 0
        self._loaded_bytes = 0  # history bytes scanned, from the workers
        self._history_bytes = 0
        self._shown_status: Status | None = None
        self.panels = Panels(self, rules or AlertRules(), alert_history)
        self.event_log.listeners.append(self.panels.on_events)

    # -- layout ------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield StatusBar(id="status")
        with Vertical(id="banners"):
            yield self.panels.alert_bar
        with Horizontal(id="body"):
            yield StreamView(self.event_log, id="stream")
            with Vertical(id="side"):
                yield self.panels.sessions_panel
                yield self.panels.latency_panel
        yield TypeBar(id="types")
        yield Input(placeholder="search text, Enter to search, Escape to cancel", id="search")
        yield Footer()

    @property
    def stream(self) -> StreamView:
        return self.query_one(StreamView)

    def on_mount(self) -> None:
        self.event_log.open()
        stream = self.stream
        stream.empty_message = self._empty_message()
        stream.rows_added()
        stream.focus()
        if self.event_log.history is not None:
            # After the first screen is drawn: the newest events come first.
            self.call_after_refresh(self._start_history)
        if self.watch_files:
            self.run_worker(watch(self.path, self._changed, self._stop_watch), group="watch", name="watch")
        self.set_interval(0.5, self._update_status)
        self.panels.mounted()
        self._update_status()
        self._update_types()

    def on_resize(self, event: events.Resize) -> None:
        self.panels.layout(event.size.width)

    def on_unmount(self) -> None:
        self._cancel.set()
        self._stop_watch.set()
        if self.search is not None:
            self.search.cancelled.set()
        self.event_log.close()  # the history threads see _cancel and stop at their next block

    # -- live updates --------------------------------------------------------------------

    def _changed(self) -> None:
        """The directory changed (or the watch timed out): read what is new."""
        if self._cancel.is_set():  # quitting: the files are being closed
            return
        added, more = self.event_log.poll(POLL_BUDGET)
        for note in self.event_log.notices():
            self.notify(note, timeout=3, markup=False)
        if added:
            self._schedule_flush()
        elif self.stream.empty_message != self._empty_message():
            self.stream.empty_message = self._empty_message()
            self.stream.refresh()
        if more:
            self.set_timer(0.001, self._changed)

    def poll_now(self) -> None:
        """Read the log now (tests, and when the watcher is off)."""
        self._changed()
        self._show_new_rows()

    def _schedule_flush(self) -> None:
        if self._flush_timer is not None:
            return
        # Under a heavy writer every update redraws the whole stream: fewer of them keep
        # the keyboard responsive, and nobody reads 20 screens a second anyway.
        rate = BUSY_UPDATES_PER_SECOND if self._last_flush_rows > BUSY_ROWS else UPDATES_PER_SECOND
        delay = self._last_flush + 1 / rate - time.monotonic()
        if delay <= 0:
            self._show_new_rows()
        else:
            self._flush_timer = self.set_timer(delay, self._show_new_rows)

    def _show_new_rows(self) -> None:  # not _flush: App._flush(stderr) is Textual's
        """Show the rows polled since the last update (at most UPDATES_PER_SECOND times a second)."""
        self._flush_timer = None
        if self._quitting():
            return
        self._last_flush = time.monotonic()
        stream = self.stream
        before = stream.shown
        stream.rows_added()
        self._last_flush_rows = stream.shown - before
        self._update_status()
        if self.search is not None:
            self._update_types()

    # -- history -------------------------------------------------------------------------

    def _start_history(self) -> None:
        plan = self.event_log.history
        assert plan is not None
        self._history_bytes = plan.total_bytes
        self.run_worker(self._load_history, thread=True, group="history", name="history")

    def _progress(self, n: int) -> None:
        self._loaded_bytes += n  # from worker threads; a lost update only skews the percentage

    def _load_history(self) -> None:
        plan = self.event_log.history
        assert plan is not None
        try:
            history = load_history(plan, processes=self.processes, progress=self._progress,
                                   cancelled=self._cancel)
        except OSError:
            if self._cancel.is_set():  # the files were closed under us: the app is quitting
                return
            raise
        if history is not None and not self._cancel.is_set():
            self._from_thread(self._adopt_history, history)

    def _from_thread(self, callback, *args) -> None:  # type: ignore[no-untyped-def]
        try:
            self.call_from_thread(callback, *args)
        except RuntimeError:  # the app is closing
            pass

    def _adopt_history(self, history: History) -> None:
        self.panels.history_loading(history.stats)
        count = self.event_log.adopt_history(history)
        self.stream.rows_prepended(count)
        self.panels.history_adopted(count)
        if self.search is not None:
            self._start_search(self.search.text, jump=False)
        for note in self.event_log.history.notes if self.event_log.history else ():
            self.notify(note, severity="warning", markup=False)
        self._update_status()

    # -- status --------------------------------------------------------------------------

    def status(self) -> Status:
        log, stream = self.event_log, self.stream
        loading = None
        if not log.loaded:
            loading = min(0.99, self._loaded_bytes / self._history_bytes) if self._history_bytes else 0.0
        return Status(
            name=self.display_name, exists=log.exists, follow=stream.follow, new_rows=stream.new_rows,
            events=log.stats.events, sessions=len(log.stats.sessions), malformed=log.malformed,
            rows=len(log.index), rate=log.rate(), loading=loading, stats_loaded=log.loaded,
            history_failures=self.panels.alerts.history_count,
        )

    def _quitting(self) -> bool:
        """True once shutdown has removed the main screen's widgets; timers may still fire then."""
        return self._cancel.is_set() or not self.query(StreamView)

    def _update_status(self) -> None:
        if self._quitting():
            return
        status = self.status()
        if status != self._shown_status:
            self._shown_status = status
            self.query_one(StatusBar).show(status)
        if self.search is not None and not self.search.done:
            self._update_types()
        self.panels.tick()

    def _update_types(self) -> None:
        search = self.search
        if search is None:
            state = ""
        elif not search.done:
            state = f"searching {search.progress:.0%}  {search.count:,} found"
        else:
            state = f"{search.count:,} match{'es' if search.count != 1 else ''}"
        self.query_one(TypeBar).show(self.stream.kinds, search.text if search else None, state)

    def _empty_message(self) -> str:
        if not self.event_log.exists and not len(self.event_log.index):
            return f"waiting for {self.path} to appear…"
        if len(self.event_log.index) and self.stream.sessions is not None:
            return "no events of the picked sessions and types (s: sessions panel, 0: every type)"
        if len(self.event_log.index):
            return "no events of the chosen types (0 shows every type)"
        return "no events yet"

    @on(StreamView.Changed)
    def _stream_changed(self) -> None:
        self._update_status()

    # -- actions -------------------------------------------------------------------------

    STREAM_ACTIONS = frozenset({"toggle_follow", "search", "next_match", "previous_match", "toggle_kind",
                                "all_kinds", "clear_search", "open_detail", "next_error", "previous_error",
                                "toggle_sessions", "toggle_latency", "toggle_window", "jump_alert",
                                "dismiss_alert", "dismiss_alerts"})

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Stream keys act on the stream only while it is on screen (not under the detail view)."""
        if action in self.STREAM_ACTIONS and self.screen is not self.screen_stack[0]:
            return False
        return True

    def action_toggle_follow(self) -> None:
        stream = self.stream
        if stream.follow:
            stream.pause()
        else:
            stream.resume()

    def action_toggle_kind(self, number: int) -> None:
        stream = self.stream
        kinds = KEY_KINDS[number]
        enabled = stream.kinds - kinds if kinds <= stream.kinds else stream.kinds | kinds
        stream.set_kinds(frozenset(enabled))
        stream.empty_message = self._empty_message()
        self._update_types()

    def action_all_kinds(self) -> None:
        self.stream.set_kinds(ALL_KINDS)
        self._update_types()

    def action_search(self) -> None:
        box = self.query_one("#search", Input)
        box.value = self.search.text if self.search is not None else ""
        box.display = True
        box.focus()

    @on(Input.Submitted, "#search")
    def _search_submitted(self, message: Input.Submitted) -> None:
        box = message.input
        box.display = False
        self.stream.focus()
        text = message.value
        if text:
            self._start_search(text, jump=True)
        else:
            self.action_clear_search()

    def action_clear_search(self) -> None:
        box = self.query_one("#search", Input)
        if box.display:
            box.display = False
            self.stream.focus()
            return
        if self.search is not None:
            self.search.cancelled.set()
            self.search = None
            self.stream.set_search(None)
            self._update_types()

    def action_next_match(self) -> None:
        self._jump(forward=True)

    def action_previous_match(self) -> None:
        self._jump(forward=False)

    def action_next_error(self) -> None:
        self._jump_to_error(forward=True)

    def action_previous_error(self) -> None:
        self._jump_to_error(forward=False)

    def _jump_to_error(self, forward: bool) -> None:
        """Move to the next (newer) or previous (older) error event, without wrapping."""
        stream = self.stream
        if ERROR_CODE not in stream.kinds:
            self.notify("Error events are hidden: 4 shows them", timeout=2)
            return
        kinds = self.event_log.index.kinds
        here = stream.cursor_position
        if here is None:
            here = stream.shown
        if forward:
            found = kinds.find(ERROR_CODE, here + 1, stream.shown)
            while found >= 0 and not stream.shows(found):  # an error of a session not picked
                found = kinds.find(ERROR_CODE, found + 1, stream.shown)
        else:
            found = kinds.rfind(ERROR_CODE, 0, max(0, here))
            while found >= 0 and not stream.shows(found):
                found = kinds.rfind(ERROR_CODE, 0, found)
        if found < 0:
            self.notify("No newer error" if forward else "No older error", timeout=2)
            return
        stream.go_to(found)

    def action_toggle_sessions(self) -> None:
        self.panels.toggle("sessions")

    def action_toggle_latency(self) -> None:
        self.panels.toggle("latency")

    def action_toggle_window(self) -> None:
        self.panels.toggle_mode()

    def action_jump_alert(self) -> None:
        self.panels.jump()

    def action_dismiss_alert(self) -> None:
        self.panels.dismiss()

    def action_dismiss_alerts(self) -> None:
        self.panels.dismiss(every=True)

    def action_help(self) -> None:
        from tui.help import HelpScreen  # imported when first needed: a faster first screen

        self.push_screen(HelpScreen())

    def action_open_detail(self) -> None:
        self.stream.action_open()

    @on(StreamView.Opened)
    def _open_detail(self, message: StreamView.Opened) -> None:
        from tui.detail import DetailScreen  # imported when first needed (pygments is slow to load)

        turn = self.event_log.turn_of(message.position)
        self.push_screen(DetailScreen(self.event_log, message.position, turn))

    # -- search --------------------------------------------------------------------------

    def _start_search(self, text: str, jump: bool) -> None:
        if self.search is not None:
            self.search.cancelled.set()
        search = self.search = Search(text, len(self.event_log.index))
        self.stream.set_search(search)
        self._update_types()

        def scan() -> None:
            search.scan(self.event_log)
            if not search.cancelled.is_set():
                self._from_thread(self._search_finished, search, jump)

        self.run_worker(scan, thread=True, group="search", exclusive=True)

    def _search_finished(self, search: Search, jump: bool) -> None:
        if search is not self.search:
            return
        self._update_types()
        if jump:
            self._jump(forward=False, inclusive=True)

    def _jump(self, forward: bool, inclusive: bool = False) -> None:
        search, stream = self.search, self.stream
        if search is None:
            self.notify("No search: press / to search", timeout=2)
            return
        here = stream.cursor_position
        if here is None:
            here = len(self.event_log.index) - 1
        if inclusive:
            here += 1 if not forward else -1
        kinds, index_kinds = stream.kinds, self.event_log.index.kinds
        found = search.next(here, forward, lambda row: index_kinds[row] in kinds)
        if found is None:
            self.notify(f"No match for {search.text!r}" if search.done else "No match yet (still searching)",
                        timeout=2, markup=False)
            return
        stream.go_to(found)

    # -- command palette -----------------------------------------------------------------

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        if screen is not self.screen_stack[0]:
            return
        stream = self.stream
        yield SystemCommand("Follow newest events", "Jump to the newest event and keep it in view (End, f)",
                            stream.resume)
        yield SystemCommand("Pause following", "Stop scrolling as events arrive (f)", stream.pause)
        yield SystemCommand("Search", "Find text in events (/)", self.action_search)
        yield SystemCommand("Next match", "Next newer match of the search (n)", self.action_next_match)
        yield SystemCommand("Previous match", "Next older match of the search (N)", self.action_previous_match)
        yield SystemCommand("Clear search", "Forget the search (Escape)", self.action_clear_search)
        yield SystemCommand("Open event detail", "Full JSON and the whole turn of the event under "
                            "the cursor (Enter)", self.action_open_detail)
        yield SystemCommand("Go to oldest event", "Home, g", stream.action_first)
        yield SystemCommand("Next error", "The next newer error event (e)", self.action_next_error)
        yield SystemCommand("Previous error", "The next older error event (E)", self.action_previous_error)
        yield SystemCommand("Show every event type", "0", self.action_all_kinds)
        for number, label in enumerate(KEY_LABELS, start=1):
            yield SystemCommand(f"Show / hide {label}", f"Toggle {label} events ({number})",
                                lambda n=number - 1: self.action_toggle_kind(n))
        yield SystemCommand("Sessions panel", "Show, focus or hide the sessions: pick some to filter the "
                            "stream (s)", self.action_toggle_sessions)
        yield SystemCommand("Latency panel", "Show or hide the rolling P50/P95/P99 (l)", self.action_toggle_latency)
        yield SystemCommand("Latency: window or whole log", "Switch the latency figures between the rolling "
                            "window and the whole log (w)", self.action_toggle_window)
        yield SystemCommand("Go to the alert", "The event of the first alert banner (a)", self.action_jump_alert)
        yield SystemCommand("Dismiss alerts", "Take every alert banner down (X)", self.action_dismiss_alerts)
        yield SystemCommand("Keys", "The help screen (?)", self.action_help)
