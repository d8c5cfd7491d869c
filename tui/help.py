"""The help screen (`?`): every key, in one table."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from tui.bars import KEY_LABELS

KEYS: tuple[tuple[str, str], ...] = (
    ("↑ ↓  k j", "move the cursor (moving up pauses following)"),
    ("PgUp PgDn  Space", "a page up / down"),
    ("Home g", "oldest event"),
    ("End G  f", "newest event, and follow new events again (f also pauses)"),
    ("Enter", "event detail: full JSON and its whole turn (Escape returns)"),
    ("/", "search text (Enter to search, empty to clear)"),
    ("n  N", "next (newer) / previous (older) match"),
    ("Escape", "clear the search"),
    ("e  E", "next (newer) / previous (older) error event"),
    ("s", "sessions panel: show / focus / hide (in it: Enter only this, Space add/remove, "
          "o sort, / id prefix, Escape back)"),
    ("l", "latency panel: P50/P95/P99, success and error rates, events/min"),
    ("w", "latency panel: rolling window / whole log (the figures of analyze)"),
    ("a", "go to the event of the first alert banner"),
    ("x  X", "dismiss the first alert banner / every banner"),
    *((str(number), f"show / hide {label}") for number, label in enumerate(KEY_LABELS[:-1], start=1)),
    (str(len(KEY_LABELS)), "show / hide other: unknown event types and malformed lines"),
    ("0", "show every type"),
    ("Ctrl+P", "command palette"),
    ("?", "this help"),
    ("q  Ctrl+C", "quit"),
)


def help_table() -> Table:
    table = Table(title=Text("obra-monitor tui — keys", style="bold"), show_header=False,
                  box=None, padding=(0, 2))
    table.add_column(style="bold cyan", no_wrap=True)
    table.add_column()
    for key, meaning in KEYS:
        table.add_row(Text(key), Text(meaning))
    table.add_row(Text(""), Text(""))
    table.add_row(Text(""), Text("Scrolling up with the mouse wheel or the scrollbar also pauses following; "
                                 "the status bar counts the events that arrive meanwhile.", style="dim"))
    return table


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,question_mark", "close", "Close")]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help"):
            yield Static(help_table())

    def action_close(self) -> None:
        self.dismiss(None)
