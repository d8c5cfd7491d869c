"""The status bar (top) and the type-filter bar (bottom): one line of Text each.

Both are built from plain strings with rich.text.Text, never markup; the only
value from the log that appears here is the search text, which is cleaned.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.widgets import Static

from obra_monitor.render import UNKNOWN_TYPE_STYLE, clean_text, style_for
from tui.index import KIND_NAMES, MALFORMED, OTHER

KEY_KINDS: tuple[frozenset[int], ...] = tuple(frozenset({code}) for code in range(OTHER)) + (
    frozenset({OTHER, MALFORMED}),
)
"""What keys 1..7 toggle: each schema type, then unknown types and malformed lines together."""
KEY_LABELS: tuple[str, ...] = KIND_NAMES[:OTHER] + ("other",)


@dataclass
class Status:
    """Everything the status bar shows."""

    name: str
    exists: bool = True
    follow: bool = True
    new_rows: int = 0
    events: int = 0
    sessions: int = 0
    malformed: int = 0
    rows: int = 0
    rate: float = 0.0
    loading: float | None = None  # 0..1 while the history loads
    stats_loaded: bool = True
    history_failures: int = 0  # errors and failed executions present at startup (no banner for them)


def status_text(status: Status) -> Text:
    line = Text(no_wrap=True, overflow="ellipsis")
    line.append(" obra-monitor ", "bold reverse")
    line.append("  ")
    line.append(clean_text(status.name, 60), "bold")
    line.append("  ")
    if not status.exists and not status.rows:
        line.append(" WAITING ", "bold black on yellow")
        line.append("  for the log file to appear", "yellow")
        return line
    if status.follow:
        line.append(" ● LIVE ", "bold black on green")
    else:
        line.append(" ❚❚ PAUSED ", "bold black on yellow")
        if status.new_rows:
            line.append(f"  +{status.new_rows:,} new", "bold yellow")
        line.append("  (End/f to follow)", "dim")
    line.append("   ")
    if status.stats_loaded:
        line.append(f"{status.events:,}", "bold")
        line.append(" events  ")
        line.append(f"{status.sessions:,}", "bold")
        line.append(" sessions  ")
    else:
        line.append(f"{status.rows:,}", "bold")
        line.append(" lines  ")
    if status.history_failures:
        line.append(f"{status.history_failures:,}", "bold red")
        line.append(" failures in history  ")
    line.append(f"{status.malformed:,}", "bold red" if status.malformed else "bold")
    line.append(" malformed  ")
    line.append(f"{status.rate:,.1f}", "bold")
    line.append("/s")
    if status.loading is not None:
        line.append(f"   loading history {status.loading:.0%}", "bold cyan")
    if not status.exists:
        line.append("   file missing: waiting for it to come back", "yellow")
    return line


class StatusBar(Static):
    """File, LIVE/PAUSED, counts and rate."""

    def show(self, status: Status) -> None:
        self.update(status_text(status), layout=False)


def types_text(enabled: frozenset[int], search: str | None, search_state: str) -> Text:
    line = Text(no_wrap=True, overflow="ellipsis")
    line.append(" types ", "dim")
    for number, (kinds, label) in enumerate(zip(KEY_KINDS, KEY_LABELS), start=1):
        on = kinds <= enabled
        style = style_for(label) if number <= OTHER else UNKNOWN_TYPE_STYLE
        line.append(f" {number}", "bold" if on else "dim")
        line.append(" ")
        line.append(label, style if on else "dim strike")
    if search:
        line.append("   search ", "dim")
        line.append(clean_text(search, 40), "bold reverse")
        line.append(f" {search_state}")
    return line


class TypeBar(Static):
    """Which event types are shown (keys 1-7) and the search state."""

    def show(self, enabled: frozenset[int], search: str | None = None, search_state: str = "") -> None:
        self.update(types_text(enabled, search, search_state), layout=False)
