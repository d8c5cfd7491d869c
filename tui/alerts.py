"""Alert banners: live errors and failed executions, and the alert rules of the config.

`Alerts` is the model (no Textual in it): the app feeds it every event as it is
indexed (`observe`, from the EventLog's listeners), the history's statistics
once loaded (`history_loaded`), and asks it to evaluate the rules on the
rolling window's figures (`evaluate`, from `stats.RollingWindow`: nothing is
computed here that stats.py computes) and on the wall clock (`check_quiet`).

Banners, most severe first:
- one red banner for errors that are not recoverable (`recoverable` false or
  missing), one amber banner for recoverable errors and failed execution
  results; each shows the newest such event (type, stage, message, session,
  turn, time) and how many more arrived since it appeared ("+3 more");
- one banner per firing rule (amber), cleared when its condition clears.

Events present at startup (the backlog and the history) only count
(`history_count`, shown in the status bar) unless `alert_history` is set.
`AlertBar` shows the banners, one line each, built from plain strings with
`rich.text.Text` (log values through `render.clean_text`), cut to the width.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from rich.text import Text
from textual.widget import Widget

from obra_monitor import events as ev
from obra_monitor.config import AlertRules
from obra_monitor.render import clean_text, clock, short_session

RED, AMBER = "red", "amber"
STYLES = {RED: "bold #ffffff on #a1001a", AMBER: "bold #000000 on #ffb000"}
DETAIL_STYLES = {RED: "#ffffff on #a1001a", AMBER: "#000000 on #ffb000"}
MAX_LINES = 3  # banners shown at once; the last line says how many more there are
FATAL, RECOVERABLE = "errors:fatal", "errors:recoverable"


@dataclass
class Banner:
    """One banner: what it is about, its newest event and how many arrived."""

    key: str
    severity: str
    label: str  # "ERROR", "FAILED", "ALERT"
    title: str  # error type, "execution failed", or the rule's figure
    detail: str = ""  # the message, or what the rule compares
    stage: str | None = None
    session: str | None = None
    turn: int | None = None
    ts: str | None = None
    position: int | None = None  # row of the newest event (errors), for the jump
    count: int = 1
    fresh: bool = True  # not yet rung for

    def line(self, width: int) -> Text:
        """The banner as one line of `width` cells. The message gets the room first; what
        follows it is left out as the width shrinks: the key hint, the time, then the session."""
        style, plain = STYLES[self.severity], DETAIL_STYLES[self.severity]
        head = Text(no_wrap=True, overflow="ellipsis", style=plain)
        head.append(f" {'✖' if self.severity == RED else '▲'} {self.label} ", style)
        head.append(" ")
        head.append(self.title, style)
        if self.stage:
            head.append(f"  [{self.stage}]")
        parts: list[tuple[str, str]] = []  # kept left to right, dropped right to left
        if self.count > 1:
            parts.append((f"  +{self.count - 1:,} more", style))
        if self.session is not None:
            parts.append((f"  {self.session}" + (f" #{self.turn}" if self.turn is not None else ""), plain))
        if self.ts is not None:
            parts.append((f"  {self.ts[:8]}", plain))
        parts.append(("  a go · x dismiss " if self.position is not None else "  x dismiss ", plain))
        wanted = min(len(self.detail), 30) + 2 if self.detail else 0
        while len(parts) > 1 and head.cell_len + wanted + sum(len(text) for text, _ in parts) > width:
            parts.pop()
        room = width - head.cell_len - sum(len(text) for text, _ in parts)
        if self.detail and room > 6:
            head.append("  ")
            head.append(self.detail if len(self.detail) <= room - 2 else self.detail[: max(0, room - 3)] + "…")
        tail = Text(style=plain)
        for text, part_style in parts:
            tail.append(text, part_style)
        if head.cell_len + tail.cell_len > width:
            line = head + tail
            line.truncate(width, overflow="ellipsis")
            return line
        head.append(" " * (width - head.cell_len - tail.cell_len))
        return head + tail


@dataclass
class Alerts:
    """Which banners are up. `version` changes whenever what they show changes."""

    rules: AlertRules = field(default_factory=AlertRules)
    alert_history: bool = False
    now: Callable[[], float] = time.time
    banners: list[Banner] = field(default_factory=list)
    history_count: int = 0  # failures present at startup (not bannered unless alert_history)
    dismissed: set[str] = field(default_factory=set)  # rules dismissed while still firing
    version: int = 0
    newest_second: int | None = None  # epoch second of the newest event seen
    started: float = 0.0

    def __post_init__(self) -> None:
        self.started = self.now()

    # -- errors --------------------------------------------------------------------------

    def observe(self, first: int, events: list[dict[str, Any] | None], live: bool) -> None:
        """Events as indexed (row `first + i`): live failures raise banners, earlier ones count."""
        error, execution = ev.EventType.ERROR.value, ev.EventType.EXECUTION_RESULT.value
        for offset, event in enumerate(events):
            if event is None:
                continue
            kind = event.get(ev.TYPE)
            if kind == error or (kind == execution and event.get(ev.SUCCESS) is False):
                if live or self.alert_history:
                    self.raise_for(event, first + offset)
                else:
                    self.history_count += 1

    def history_loaded(self, failures: int, fatal: int,
                       newest: Callable[[set[str]], dict[str, tuple[int, dict[str, Any]]]]) -> None:
        """The history (everything before the backlog) is loaded with `failures` error events and
        failed executions, `fatal` of them errors that are not recoverable: count them, or, with
        alert_history, add them to the banners. `newest(keys)` finds the row and event of the
        newest history failure of each banner key that has no banner yet."""
        self.version += 1
        if not self.alert_history:
            self.history_count += failures
            return
        counts = {FATAL: fatal, RECOVERABLE: failures - fatal}
        missing = {key for key, count in counts.items() if count and self._banner(key) is None}
        found = newest(missing) if missing else {}
        for key, count in counts.items():
            banner = self._banner(key)
            if banner is not None:
                banner.count += count
            elif key in found:
                position, event = found[key]
                self.raise_for(event, position)
                banner = self._banner(key)
                assert banner is not None
                banner.count = count

    def raise_for(self, event: dict[str, Any], position: int) -> None:
        key = _error_key(event)
        banner = self._banner(key)
        kind = event.get(ev.TYPE)
        if kind == ev.EventType.ERROR:
            label = "ERROR"
            title = clean_text(event.get(ev.ERROR_TYPE) or "error", 60)
            detail = clean_text(event.get(ev.ERROR, ""), 300)
            stage = event.get(ev.STAGE)
        else:
            label = "FAILED"
            operation = event.get(ev.OPERATION)
            what = " ".join(clean_text(p, 30) for p in (operation, event.get(ev.ENTITY)) if isinstance(p, str))
            title = f"{what} failed" if what else "execution failed"
            detail = clean_text(event.get(ev.MESSAGE, ""), 300)
            stage = ev.Stage.EXECUTION.value
        turn = event.get(ev.TURN)
        fields = {
            "label": label, "title": title, "detail": detail,
            "stage": clean_text(stage, 30) if stage is not None else None,
            "session": short_session(event.get(ev.SESSION)) if event.get(ev.SESSION) is not None else None,
            "turn": turn if turn.__class__ is int else None,
            "ts": clock(event.get(ev.TS)), "position": position,
        }
        if banner is None:
            banner = Banner(key=key, severity=RED if key == FATAL else AMBER, **fields)  # type: ignore[arg-type]
            self._insert(banner)
        else:
            for name, value in fields.items():
                setattr(banner, name, value)
            banner.count += 1
        self.version += 1

    # -- rules ---------------------------------------------------------------------------

    def evaluate(self, figures: dict[str, Any]) -> None:
        """Raise or clear the rule banners on a RollingWindow's figures (latency_ms.nl needed)."""
        rules = self.rules
        if figures.get("end") is not None:
            self.newest_second = figures["end"]
        span = _span(figures["span"])
        at = f"as of {clock(iso_second(figures['end']))[:8]}" if figures.get("end") is not None else ""
        errors = figures["errors"]
        limit = rules.error_rate_per_minute
        self._rule("rule:error_rate", limit is not None and errors["total"] > 0 and errors["per_minute"] > limit,
                   lambda: (f"{errors['per_minute']:,.1f} errors/min",
                            f"above {limit:g}/min over the last {span} ({errors['total']:,} errors) {at}"))
        nl = figures["latency_ms"]["nl"]
        limit = rules.nl_p95_ms
        self._rule("rule:nl_p95", limit is not None and nl["count"] >= rules.min_samples and nl["p95"] > limit,
                   lambda: (f"NL P95 {_ms(nl['p95'])}",
                            f"above {_ms(limit)} over the last {span} ({nl['count']:,} parses) {at}"))
        validation = figures["validation"]
        decided = validation["passed"] + validation["failed"]
        limit = rules.validation_failure_percent
        self._rule("rule:validation", limit is not None and decided >= rules.min_samples
                   and validation["failure_rate"] * 100 > limit,
                   lambda: (f"validation failing {validation['failure_rate']:.0%}",
                            f"above {limit:g}% over the last {span} ({validation['failed']:,} of {decided:,}) {at}"))

    def check_quiet(self) -> None:
        """The `no events for N minutes` rule, on the wall clock."""
        limit = self.rules.no_events_minutes
        if limit is None:
            return
        now = self.now()
        since = self.newest_second if self.newest_second is not None else self.started
        quiet = now - since
        self._rule("rule:quiet", quiet > limit * 60,
                   lambda: (f"no events for {_duration(quiet)}",
                            f"the newest is from {iso_second(self.newest_second)[:19].replace('T', ' ')} UTC"
                            if self.newest_second is not None else "the log has no events yet"))

    def saw(self, second: int | None) -> None:
        """The newest event's epoch second (the quiet rule's clock), as events arrive."""
        if second is not None and (self.newest_second is None or second > self.newest_second):
            self.newest_second = second
            if self._banner("rule:quiet") is not None or "rule:quiet" in self.dismissed:
                self.check_quiet()

    def _rule(self, key: str, firing: bool, text: Callable[[], tuple[str, str]]) -> None:
        banner = self._banner(key)
        if not firing:
            self.dismissed.discard(key)
            if banner is not None:
                self.banners.remove(banner)
                self.version += 1
            return
        if key in self.dismissed:
            return
        title, detail = text()
        if banner is None:
            self._insert(Banner(key=key, severity=AMBER, label="ALERT", title=title, detail=detail))
            self.version += 1
        elif (banner.title, banner.detail) != (title, detail):
            banner.title, banner.detail = title, detail
            self.version += 1

    # -- the user --------------------------------------------------------------------------

    def dismiss(self, banner: Banner | None = None) -> Banner | None:
        """Take down a banner (the first by default); a rule stays down until it clears."""
        if banner is None:
            if not self.banners:
                return None
            banner = self.banners[0]
        self.banners.remove(banner)
        if banner.key.startswith("rule:"):
            self.dismissed.add(banner.key)
        self.version += 1
        return banner

    def dismiss_all(self) -> None:
        while self.banners:
            self.dismiss()

    def first_with_event(self) -> Banner | None:
        return next((banner for banner in self.banners if banner.position is not None), None)

    def shift(self, rows: int) -> None:
        """`rows` rows (the history) were put in front: every row moved down as many."""
        for banner in self.banners:
            if banner.position is not None:
                banner.position += rows

    def ring(self) -> bool:
        """Whether a banner appeared since the last call (and the bell is on)."""
        fresh = [banner for banner in self.banners if banner.fresh]
        for banner in fresh:
            banner.fresh = False
        return bool(fresh) and self.rules.bell

    # -- internals -------------------------------------------------------------------------

    def _banner(self, key: str) -> Banner | None:
        return next((banner for banner in self.banners if banner.key == key), None)

    def _insert(self, banner: Banner) -> None:
        """Errors before rules; red before amber."""
        order = {FATAL: 0, RECOVERABLE: 1}
        rank = order.get(banner.key, 2)
        at = next((i for i, other in enumerate(self.banners) if order.get(other.key, 2) > rank), len(self.banners))
        self.banners.insert(at, banner)


def _error_key(event: dict[str, Any]) -> str:
    if event.get(ev.TYPE) == ev.EventType.ERROR and event.get(ev.RECOVERABLE) is not True:
        return FATAL
    return RECOVERABLE


def iso_second(second: int | None) -> str:
    """An epoch second as a UTC `ts` (`2026-12-04T10:00:00Z`); empty for None."""
    if second is None:
        return ""
    return datetime.fromtimestamp(second, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _span(seconds: int) -> str:
    if seconds % 3600 == 0:
        return f"{seconds // 3600}h"
    if seconds % 60 == 0:
        return f"{seconds // 60}m"
    return f"{seconds}s"


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f}s"
    if seconds < 7200:
        return f"{seconds / 60:.0f}m" if seconds % 60 == 0 or seconds >= 600 else f"{seconds / 60:.1f}m"
    if seconds < 172800:
        return f"{seconds / 3600:.1f}h"
    return f"{seconds / 86400:.1f}d"


def _ms(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value / 1000:.2f} s" if value >= 1000 else f"{value:.0f} ms"


class AlertBar(Widget):
    """The banners, one line each (at most MAX_LINES; the last says how many more)."""

    DEFAULT_CSS = """
    AlertBar {
        height: auto;
    }
    """

    def __init__(self, alerts: Alerts, *, id: str | None = None) -> None:  # noqa: A002
        super().__init__(id=id)
        self.alerts = alerts
        self._shown = -1

    def sync(self) -> None:
        """Redraw if the banners changed; shown only while there are any."""
        if self.alerts.version == self._shown:
            return
        self._shown = self.alerts.version
        self.display = bool(self.alerts.banners)
        self.styles.height = min(len(self.alerts.banners), MAX_LINES) or 1
        self.refresh(layout=True)

    def lines(self, width: int) -> list[Text]:
        banners = self.alerts.banners
        if len(banners) <= MAX_LINES:
            return [banner.line(width) for banner in banners]
        shown = [banner.line(width) for banner in banners[: MAX_LINES - 1]]
        more = Text(f" … {len(banners) - MAX_LINES + 1} more alerts: x dismisses the first, X all ",
                    style=DETAIL_STYLES[AMBER], no_wrap=True, overflow="ellipsis")
        more.append(" " * max(0, width - more.cell_len))
        return shown + [more]

    def render(self) -> Text:
        return Text("\n", no_wrap=True).join(self.lines(self.size.width or 80))

    def plain(self) -> str:
        """What the banners say (tests)."""
        return "\n".join(line.plain.rstrip() for line in self.lines(self.size.width or 80))
