"""The rolling latency stats panel, and the scope its figures are about.

Two kinds of figures, toggled with `w`:
- the rolling window: P50/P95/P99 of NL parse, execution and implementer
  durations, success rate, error rate and events per minute over the last N
  minutes of event time (`stats.RollingWindow`), with a sparkline of the NL P95
  slice by slice;
- the whole log: the same figures from `Stats.headline()`, the code `obra-monitor
  analyze` prints them with (so they are equal).

`Scope` is what the figures follow: every session (the log's own Stats and the
app's window, fed as events arrive) or the sessions picked in the sessions
panel. A picked scope gets a Stats and a RollingWindow of its own, built from
its sessions' rows, found through the index's session column and re-read from
the log (`build_scope`, in a worker thread when there are many rows); events
that arrive meanwhile wait in `pending`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Sparkline, Static

from obra_monitor import events as ev
from obra_monitor.render import clock
from obra_monitor.stats import RollingWindow, Stats
from tui.alerts import _span, iso_second
from tui.log import EventLog

SYNC_ROWS = 20_000  # a scope with more rows than this is built in a worker thread
WINDOW, WHOLE = "window", "whole"
LABELS = (("nl", "NL"), ("execution", "exec"), ("implementer", "impl"))


@dataclass
class Scope:
    """The sessions the figures are about (None: all), with their own figures when picked."""

    sessions: frozenset[str] | None
    span: int
    stats: Stats | None = None
    window: RollingWindow | None = None
    ready: bool = True
    pending: list[dict[str, Any]] = field(default_factory=list)
    cancelled: threading.Event = field(default_factory=threading.Event)
    history_rows: int = 0  # the log's history rows when the build began (a rebuild follows a change)

    @property
    def everything(self) -> bool:
        return self.sessions is None

    def add(self, events: list[dict[str, Any] | None]) -> None:
        """Live events: those of the scope's sessions go into its figures."""
        if self.sessions is None:
            return
        names, key = self.sessions, ev.SESSION
        mine = [event for event in events if event is not None and event.get(key) in names]
        if not mine:
            return
        if not self.ready:
            self.pending.extend(mine)
            return
        assert self.stats is not None and self.window is not None
        self.stats.add_many(mine)
        self.window.add_many(mine)

    def adopt(self, stats: Stats, window: RollingWindow) -> None:
        """The build is done: take its figures, then the events that arrived meanwhile."""
        self.stats, self.window, self.ready = stats, window, True
        pending, self.pending = self.pending, []
        if pending:
            stats.add_many(pending)
            window.add_many(pending)


def scope_rows(log: EventLog, sessions: Iterable[str]) -> list[int]:
    """Rows of these sessions, from the index's session column."""
    index = log.index
    numbers = frozenset(n for n in map(index.session_number, sessions) if n is not None)
    return list(index.session_rows(numbers))


def build_scope(log: EventLog, rows: list[int], span: int,
                cancelled: threading.Event | None = None) -> tuple[Stats, RollingWindow] | None:
    """A Stats and a RollingWindow of these rows (in log order), re-read from the log."""
    stats, window = Stats(), RollingWindow(span)
    batch: list[dict[str, Any]] = []
    for row in rows:
        if cancelled is not None and cancelled.is_set():
            return None
        event = log.parse(row)[0]
        if event is not None:
            batch.append(event)
        if len(batch) >= 1024:
            stats.add_many(batch)
            window.add_many(batch)
            batch = []
    stats.add_many(batch)
    window.add_many(batch)
    return stats, window


def backfill(window: RollingWindow, log: EventLog, end: int, *, budget: float = 0.03,
             batch: int = 512) -> int:
    """Feed the window the rows before `end` that fall in it, newest first, for about `budget`
    seconds: the history's part of the window once it is loaded. Returns the row to go on
    from (0: done, the rows before it are older than the window)."""
    deadline = time.perf_counter() + budget
    high = end
    while high > 0:
        low = max(0, high - batch)
        events = [event for event in (log.parse(row)[0] for row in range(low, high)) if event is not None]
        outside = window.add_many(events)
        if events and outside == len(events):
            return 0
        high = low
        if time.perf_counter() > deadline:
            break
    return high


# -- the panel ------------------------------------------------------------------------------


def short_ms(value: float | None) -> str:
    """A duration in at most 6 characters: 812ms, 1.91s, 17.0s, 117s, 19.5m."""
    if value is None:
        return "–"
    if value < 1000:
        return f"{value:.0f}ms"
    if value < 10_000:
        return f"{value / 1000:.2f}s"
    if value < 100_000:
        return f"{value / 1000:.1f}s"
    if value < 1_000_000:
        return f"{value / 1000:.0f}s"
    return f"{value / 60_000:.1f}m"


def count(value: int) -> str:
    """A count in at most 6 characters: 1,648, 12.3k, 1.2M."""
    if value < 100_000:
        return f"{value:,}"
    if value < 10_000_000:
        return f"{value / 1000:.0f}k" if value >= 1_000_000 else f"{value / 1000:.1f}k"
    return f"{value / 1_000_000:.1f}M"


def _rate(value: float | None) -> str:
    return "–" if value is None else f"{value:.1%}"


def _per_minute(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value:,.0f}" if value >= 100 else f"{value:.1f}"


def span_text(seconds: int) -> str:
    return _span(seconds)


def figures_text(figures: dict[str, Any], mode: str, scope: str, note: str | None = None) -> Text:
    """Title, the latency table and the rates, one Text (no markup; nothing from the log but numbers)."""
    text = Text(no_wrap=True, overflow="ellipsis")
    if mode == WINDOW:
        text.append("Latency", "bold")
        text.append(f" last {span_text(figures['span'])}", "bold cyan")
        if figures.get("end") is not None:
            text.append(f" to {clock(iso_second(figures['end']))[:8]}", "dim")
    else:
        text.append("Latency", "bold")
        text.append(" whole log", "bold magenta")
    text.append(f"  {scope}\n", "bold yellow" if scope != "all sessions" else "dim")
    text.append(f"{'':5}{'P50':>7}{'P95':>7}{'P99':>7}{'n':>7}\n", "dim")
    for key, label in LABELS:
        figure = figures["latency_ms"][key]
        text.append(f"{label:<5}", "bold")
        for p in ("p50", "p95", "p99"):
            text.append(f"{short_ms(figure[p]):>7}", "bold" if p == "p95" else "")
        text.append(f"{count(figure['count']):>7}\n", "dim")
    execution, errors = figures["execution"], figures["errors"]
    rate = execution["success_rate"]
    text.append("ok ", "dim")
    text.append(f"{_rate(rate):>6}", "bold green" if rate is None or rate >= 0.9 else "bold yellow"
                if rate >= 0.75 else "bold red")
    text.append(f" of {count(execution['succeeded'] + execution['failed'])}", "dim")
    text.append("  errors ", "dim")
    text.append(_rate(errors["rate"]), "bold red" if errors["total"] else "bold")
    text.append("/turn\n", "dim")
    per_minute = figures.get("events_per_minute")
    text.append("events ", "dim")
    text.append(_per_minute(per_minute), "bold")
    text.append("/min", "dim")
    if errors.get("per_minute") is not None:
        text.append("  errors ", "dim")
        text.append(_per_minute(errors["per_minute"]), "bold")
        text.append("/min", "dim")
    text.append("\n")
    if note:
        text.append(note, "italic dim")
    elif mode == WINDOW and figures.get("approximate"):
        text.append("percentiles within 1% (busy window)", "italic dim")
    elif mode == WINDOW:
        text.append("NL P95 over the window:", "dim")
    else:
        text.append("same figures as obra-monitor analyze", "dim")
    return text


def whole_figures(stats: Stats) -> dict[str, Any]:
    """Stats.headline() plus events per minute over its time range (as analyze would read it)."""
    head = stats.headline()
    first, last = head["time_range"]["first"], head["time_range"]["last"]
    start, end = ev.parse_ts(first) if first else None, ev.parse_ts(last) if last else None
    minutes = max((end - start).total_seconds() / 60, 1.0) if start and end else None
    head["events_per_minute"] = head["events"] / minutes if minutes else None
    head["errors"] = {**head["errors"], "per_minute": head["errors"]["total"] / minutes if minutes else None}
    return head


class LatencyPanel(Vertical):
    """Figures (one Text) and the NL P95 sparkline."""

    def compose(self) -> ComposeResult:
        yield Static(id="latency-figures")
        yield Sparkline([], id="latency-spark")

    def show(self, text: Text, series: list[float] | None) -> None:
        figures = self.query_one("#latency-figures", Static)
        shown = getattr(self, "_shown", None)
        if shown != text:
            # A relayout only when the number of lines changes (it costs the whole screen's).
            lines = text.plain.count("\n")
            figures.update(text, layout=shown is None or shown.plain.count("\n") != lines)
            self._shown = text
        spark = self.query_one("#latency-spark", Sparkline)
        if spark.display != bool(series):
            spark.display = bool(series)
        if series and list(spark.data or ()) != series:
            spark.data = series

    def plain(self) -> str:
        """What the panel's figures say (tests)."""
        return self.query_one("#latency-figures", Static).content.plain  # type: ignore[union-attr]
