"""The detail view: one event's full JSON, and the turn it belongs to.

Opened with Enter on a row. The top lists the events of the same session and
turn (the opened one highlighted; up/down moves among them), the bottom shows
the highlighted event pretty-printed. JSON is produced by orjson (which escapes
C0 controls) and each line is cleaned again with `render.clean_text` (for DEL,
C1 and bidi controls) before syntax highlighting; nothing is read as markup.
Escape goes back to the stream exactly where it was.
"""

from __future__ import annotations

import orjson
from rich.syntax import Syntax
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, OptionList, Static
from textual.widgets.option_list import Option

from obra_monitor import events as ev
from obra_monitor.render import clean_text, event_line, malformed_line
from tui.log import EventLog


def pretty_json(event: dict) -> str:  # type: ignore[type-arg]
    """Indented JSON of an event, safe to show (no control characters)."""
    try:
        text = orjson.dumps(event, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS).decode()
    except (TypeError, orjson.JSONEncodeError):
        text = repr(event)
    return "\n".join(clean_text(line) for line in text.split("\n"))


def event_body(log: EventLog, position: int) -> Syntax | Text:
    event, problem, raw = log.parse(position)
    if event is None:
        body = Text()
        body.append(f"malformed line ({problem})\n\n", "bold red")
        body.append(clean_text(raw.decode("utf-8", "replace")))
        return body
    return Syntax(pretty_json(event), "json", theme="ansi_dark", word_wrap=True,
                  background_color="default")


def describe(log: EventLog, position: int, turn: list[int]) -> Text:
    """The title line: which event, where it is, and which turn."""
    event = log.parse(position)[0]
    slot, offset, length = log.index.location(position)
    line = Text(no_wrap=True, overflow="ellipsis")
    line.append(f" event {position + 1:,} of {len(log.index):,} ", "bold reverse")
    line.append(f"  bytes {offset:,}+{length:,}", "dim")
    if event is not None:
        session = event.get(ev.SESSION)
        turn_number = event.get(ev.TURN)
        line.append("   session ")
        line.append(clean_text(session, 36) if session is not None else "-", "bold")
        if isinstance(turn_number, int) and not isinstance(turn_number, bool):
            line.append(f"   turn #{turn_number}", "bold")
    line.append(f"   {len(turn)} event{'s' if len(turn) != 1 else ''} in this turn", "dim")
    return line


class DetailScreen(Screen[None]):
    """One event in full, with the rest of its turn."""

    BINDINGS = [
        Binding("escape,q", "back", "Back"),
        Binding("c", "copy", "Copy JSON"),
    ]

    def __init__(self, log: EventLog, position: int, turn: list[int]) -> None:
        super().__init__()
        self.event_log = log
        self.position = position
        self.turn = turn

    def compose(self) -> ComposeResult:
        yield Static(describe(self.event_log, self.position, self.turn), id="detail-title")
        options = []
        for row in self.turn:
            event, problem, raw = self.event_log.parse(row)
            prompt = event_line(event) if event is not None else malformed_line(raw, problem)
            options.append(Option(prompt, id=str(row)))
        yield OptionList(*options, id="turn")
        with VerticalScroll(id="json"):
            yield Static(event_body(self.event_log, self.position), id="json-body")
        yield Footer()

    def on_mount(self) -> None:
        turn_list = self.query_one("#turn", OptionList)
        turn_list.border_title = "this turn: ↑↓ to pick an event"
        self.query_one("#json", VerticalScroll).border_title = "event JSON"
        turn_list.highlighted = self.turn.index(self.position)
        turn_list.focus()

    def on_option_list_option_highlighted(self, message: OptionList.OptionHighlighted) -> None:
        row = int(message.option.id or self.position)
        if row != self.position:
            self.position = row
            self.query_one("#json-body", Static).update(event_body(self.event_log, row))
            self.query_one("#detail-title", Static).update(describe(self.event_log, row, self.turn))

    def action_back(self) -> None:
        self.dismiss(None)

    def action_copy(self) -> None:
        event, _problem, raw = self.event_log.parse(self.position)
        text = pretty_json(event) if event is not None else raw.decode("utf-8", "replace")
        self.app.copy_to_clipboard(text)
        self.notify("JSON copied to the clipboard")
