"""The panels around the stream, wired to the log: sessions, latency stats, alert banners.

`Panels` is what the app holds: it is fed every event as the log indexes it (an
`EventLog` listener), keeps the rolling window of event time that both the
latency panel and the alert rules read (`stats.RollingWindow`), the scope the
figures follow (every session, or the ones picked in the sessions panel), and
the alert banners (`alerts.Alerts`). The app calls `tick()` after every stream
update and twice a second; the cheap parts (banners) are brought up to date at
once, the panels at most PANEL_UPDATES_PER_SECOND, the whole-log figures (a
sort of every duration of the log) at most every WHOLE_LOG_SECONDS.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual.widget import Widget

from obra_monitor import events as ev
from obra_monitor.config import AlertRules
from obra_monitor.stats import RollingWindow, Stats
from tui.alerts import FATAL, RECOVERABLE, AlertBar, Alerts, _error_key, iso_second
from tui.index import CODES
from tui.latency import (
    SYNC_ROWS, WHOLE, WINDOW, LatencyPanel, Scope, backfill, build_scope, figures_text, scope_rows, span_text,
    whole_figures,
)
from tui.sessions import SessionsPanel, focus_now, summary_text

if TYPE_CHECKING:
    from tui.app import MonitorApp

PANEL_UPDATES_PER_SECOND = 4
WHOLE_LOG_SECONDS = 2.0
BUDGET = 40  # the whole-log figures, costing t, wait at least BUDGET * t before they are computed again
RULE_CHECKS_PER_SECOND = 4
WIDE = 120  # terminals at least this wide open with the side panels shown
HISTORY_SCAN = 500_000  # rows looked back through for the newest history failure (--alert-history)
ERROR_CODE, EXECUTION_CODE = CODES[ev.EventType.ERROR.value], CODES[ev.EventType.EXECUTION_RESULT.value]


class Panels:
    def __init__(self, app: MonitorApp, rules: AlertRules, alert_history: bool = False,
                 now: Any = time.time) -> None:
        self.app = app
        self.rules = rules
        self.span = max(1, round(rules.window_minutes * 60))
        self.window = RollingWindow(self.span)  # every session: the rules' and the panel's
        self.alerts = Alerts(rules, alert_history, now)
        self.scope = Scope(None, self.span)
        self.mode = WINDOW
        self.alert_bar = AlertBar(self.alerts, id="alert-bar")
        self.sessions_panel = SessionsPanel(lambda: self.app.event_log.stats, on_filter=self.set_filter,
                                            on_moved=self._update_summary, on_leave=self._leave, id="sessions")
        self.latency_panel = LatencyPanel(id="latency")
        self._panels_at = -1e9
        self._rules_at = -1e9
        self._whole_at = -1e9
        self._whole: tuple[int, int, dict[str, Any]] | None = None  # (stats id, events, figures)
        self._whole_cost = 0.0
        self._sorted: Stats | None = None
        self._window_events = -1
        self._scope_figures: dict[str, Any] | None = None
        self._history: tuple[int, int, int] | None = None
        self._backfill_from = 0  # history rows still to look at for the window, newest first

    # -- feeding -------------------------------------------------------------------------

    def on_events(self, first: int, events: list[dict[str, Any] | None], live: bool) -> None:
        """An EventLog listener: every event as it is indexed."""
        present = [event for event in events if event is not None]
        if not present:
            return
        self.window.add_many(present)
        self.alerts.observe(first, events, live)
        self.alerts.saw(self.window.newest)
        key = ev.SESSION
        self.sessions_panel.touch(s for s in (event.get(key) for event in present) if s.__class__ is str)
        self.scope.add(present)

    def history_loading(self, history: Stats) -> None:
        """Before the history's statistics are merged into the log's: note its failures."""
        self._history = (history.errors, history.failed_executions, history.errors_not_recoverable)

    def history_adopted(self, rows: int) -> None:
        """The history is in front of the rows now: move rows, fill the window's older part."""
        self.alerts.shift(rows)
        if self._history is not None:
            errors, failed, fatal = self._history
            self.alerts.history_loaded(errors + failed, fatal, self._newest_failures)
        self._backfill_from = rows  # the window's older part, 30 ms at a time between screen updates
        self._backfill_step()
        self._window_events = -1
        if not self.scope.everything:
            self.set_filter(self.scope.sessions, rebuild=True)
        self.tick(force=True)

    def _backfill_step(self) -> None:
        if not self._backfill_from or not self.alert_bar.is_attached:
            return
        self._backfill_from = backfill(self.window, self.app.event_log, self._backfill_from)
        if self._backfill_from:
            self.app.set_timer(0.02, self._backfill_step)
        else:
            self.tick(force=True)

    def _newest_failures(self, keys: set[str]) -> dict[str, tuple[int, dict[str, Any]]]:
        """The newest history failure of each banner key: a walk back through the kinds column."""
        log = self.app.event_log
        kinds = log.index.kinds
        found: dict[str, tuple[int, dict[str, Any]]] = {}
        row = log.history_rows
        low = max(0, row - HISTORY_SCAN)
        while keys - found.keys() and row > low:
            error, execution = kinds.rfind(ERROR_CODE, low, row), kinds.rfind(EXECUTION_CODE, low, row)
            row = max(error, execution)
            if row < 0:
                break
            event = log.parse(row)[0]
            if event is None or (row == execution and event.get(ev.SUCCESS) is not False):
                continue
            key = _error_key(event)
            if key in keys and key not in found:
                found[key] = (row, event)
        return found

    # -- the filter --------------------------------------------------------------------------

    def set_filter(self, sessions: frozenset[str] | None, rebuild: bool = False) -> None:
        """Show only these sessions (None: all) in the stream; the figures follow."""
        app = self.app
        app.stream.set_sessions(sessions)
        app.stream.empty_message = app._empty_message()
        self.sessions_panel.list.set_selected(sessions)
        if sessions == self.scope.sessions and not rebuild:
            return
        self.scope.cancelled.set()
        self._scope_figures = None
        if sessions is None:
            self.scope = Scope(None, self.span)
            self.tick(force=True)
            return
        log = app.event_log
        rows = scope_rows(log, sessions)
        scope = self.scope = Scope(sessions, self.span, ready=False, history_rows=log.history_rows)
        if len(rows) <= SYNC_ROWS:
            built = build_scope(log, rows, self.span)
            assert built is not None
            scope.adopt(*built)
            self.tick(force=True)
            return

        def work() -> None:
            built = build_scope(log, rows, self.span, scope.cancelled)
            if built is not None and not scope.cancelled.is_set():
                app._from_thread(self._scope_built, scope, built)

        app.run_worker(work, thread=True, group="scope", exclusive=True)
        self.tick(force=True)

    def _scope_built(self, scope: Scope, built: tuple[Stats, RollingWindow]) -> None:
        if scope is not self.scope:
            return
        if scope.history_rows != self.app.event_log.history_rows:  # the history came meanwhile
            self.set_filter(scope.sessions, rebuild=True)
            return
        scope.adopt(*built)
        self.tick(force=True)

    # -- showing -----------------------------------------------------------------------------

    def mounted(self) -> None:
        wide = self.app.size.width >= WIDE
        self.sessions_panel.display = wide
        self.latency_panel.display = wide
        self._side()
        self.layout(self.app.size.width)
        self.app.set_interval(1.0, self._quiet)
        self.tick(force=True)

    def _quiet(self) -> None:
        if not self.alert_bar.is_attached:
            return
        self.alerts.check_quiet()
        self._sync_alerts()

    def _body(self) -> Widget:
        side = self.latency_panel.parent
        assert side is not None and isinstance(side.parent, Widget)
        return side.parent

    def tick(self, force: bool = False) -> None:
        if not self.alert_bar.is_attached:  # the app is closing
            return
        now = time.monotonic()
        if force or now - self._rules_at >= 1 / RULE_CHECKS_PER_SECOND:
            if force or self.window.events != self._window_events or self.window.newest is None:
                self._rules_at = now
                self._evaluate()
        self._sync_alerts()
        if force or now - self._panels_at >= 1 / PANEL_UPDATES_PER_SECOND:
            self._panels_at = now
            self._update_panels(force)

    def _evaluate(self) -> None:
        if self.window.newest is None or self._backfill_from:  # not while the window is partial
            return
        self.alerts.evaluate(self.window.figures())

    def _sync_alerts(self) -> None:
        self.alert_bar.sync()
        slot = self.alert_bar.parent
        assert isinstance(slot, Widget)
        if slot.display != bool(self.alerts.banners):
            slot.display = bool(self.alerts.banners)
        if self.alerts.ring():
            self.app.bell()

    def _update_panels(self, force: bool) -> None:
        if self.sessions_panel.display:
            if self.window.newest is not None:
                    self.sessions_panel.today = iso_second(self.window.newest)[:10]
            self.sessions_panel.update(force)
            self._update_summary()
        if self.latency_panel.display:
            self._update_latency(force)

    def figures(self, force: bool = False) -> tuple[dict[str, Any] | None, list[float] | None, str | None]:
        """The figures the latency panel shows now: (figures, sparkline series, a note)."""
        scope = self.scope
        if not scope.ready:
            return None, None, None
        if self.mode == WINDOW:
            window = self.window if scope.everything else scope.window
            assert window is not None
            figures = window.figures()
            slices = max(4, min(60, (self.latency_panel.size.width or 34)))
            series = [part["nl_p95"] or 0.0 for part in window.series(slices)]
            note = "reading the window's older events…" if self._backfill_from and scope.everything else None
            return figures, series if any(series) else None, note
        stats = self.app.event_log.stats if scope.everything else scope.stats
        assert stats is not None
        now = time.monotonic()
        cached = self._whole
        wait = max(WHOLE_LOG_SECONDS, BUDGET * self._whole_cost)
        if (cached is not None and cached[0] == id(stats) and
                (cached[1] == stats.events or (not force and now - self._whole_at < wait))):
            figures = cached[2]
        else:
            if self._sorted is not stats:
                # Sorted once in place, the durations sort again in one pass (the new ones are a short run).
                stats.sort_latencies()
                self._sorted = stats
            figures = whole_figures(stats)
            self._whole, self._whole_at = (id(stats), stats.events, figures), now
            self._whole_cost = time.monotonic() - now
        note = None if self.app.event_log.loaded or not scope.everything else "history still loading: partial"
        return figures, None, note

    def _update_latency(self, force: bool) -> None:
        figures, series, note = self.figures(force)
        label = self.scope_label()
        if figures is None:
            self.latency_panel.show(Text.assemble(("Latency", "bold"), ("  computing…", "italic dim"),
                                                  (f"  {label}", "bold yellow")), None)
            return
        self.latency_panel.show(figures_text(figures, self.mode, label, note), series)

    def scope_label(self) -> str:
        sessions = self.scope.sessions
        if sessions is None:
            return "all sessions"
        if len(sessions) == 1:
            return f"session {next(iter(sessions))[:8]}"
        return f"{len(sessions):,} sessions"

    def _update_summary(self) -> None:
        session_list = self.sessions_panel.list
        name = session_list.cursor_session
        stats = self.app.event_log.stats
        counters = None
        if name is not None:
            summary = stats.session_summary(name)
            if summary is not None:
                counters = {"session": name, "summary": summary}
        scope = self.scope
        lines = 2 if self._body().has_class("narrow") else 4
        if scope.everything:
            text = summary_text(None, None, counters, lines)
        else:
            figures = scope.stats.headline() if scope.ready and scope.stats is not None else None
            text = summary_text(self.scope_label(), figures, counters, lines)
        self.sessions_panel.show_summary(text)

    # -- keys --------------------------------------------------------------------------------

    def toggle(self, which: str) -> None:
        panel = self.sessions_panel if which == "sessions" else self.latency_panel
        app = self.app
        if which == "sessions" and panel.display and not self.sessions_panel.list.has_focus:
            focus_now(self.sessions_panel.list)  # shown but not focused: focus it first
            return
        panel.display = not panel.display
        self._side()
        if which == "sessions":
            if panel.display:
                focus_now(self.sessions_panel.list)
            else:
                focus_now(app.stream)
        self.tick(force=True)

    def layout(self, width: int) -> None:
        """Beside the stream on wide terminals, under it on narrow ones."""
        body = self._body()
        if body.has_class("narrow") != (width < WIDE):
            body.set_class(width < WIDE, "narrow")
            self.tick(force=True)

    def _leave(self) -> None:
        focus_now(self.app.stream)

    def _side(self) -> None:
        side = self.latency_panel.parent
        assert isinstance(side, Widget)
        side.display = bool(self.sessions_panel.display or self.latency_panel.display)

    def toggle_mode(self) -> None:
        self.mode = WHOLE if self.mode == WINDOW else WINDOW
        if not self.latency_panel.display:
            self.latency_panel.display = True
            self._side()
        self.tick(force=True)
        self.app.notify("Latency: whole log (same figures as analyze)" if self.mode == WHOLE
                        else f"Latency: the last {span_text(self.span)} of event time", timeout=2)

    def jump(self) -> None:
        banner = self.alerts.first_with_event()
        app = self.app
        if banner is None:
            app.notify("No error banner to go to" if not self.alerts.banners
                       else "This alert has no event to go to: x dismisses it", timeout=2)
            return
        stream = app.stream
        position = banner.position
        assert position is not None
        if not stream.shows(position):
            from tui.index import ALL_KINDS

            if stream.sessions is not None:
                self.set_filter(None)
            if not stream.shows(position):
                stream.set_kinds(ALL_KINDS)
                app._update_types()
            app.notify("Filters cleared to show the error", timeout=2)
        stream.go_to(position)
        focus_now(stream)

    def dismiss(self, every: bool = False) -> None:
        if every:
            self.alerts.dismiss_all()
        elif self.alerts.dismiss() is None:
            self.app.notify("No banner to dismiss", timeout=2)
        self._sync_alerts()


__all__ = ["FATAL", "RECOVERABLE", "Panels"]
