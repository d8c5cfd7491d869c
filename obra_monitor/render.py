"""One line per event, and the palette: shared by `tail`, `session` and the TUI.

Everything is built as `rich.text.Text` from plain strings, never from markup,
and every value from the log goes through `clean_text()` first, so nothing a
user typed (`[bold red]x[/]`, `\\x1b[2J`, a carriage return) can style or
control the terminal: it is shown literally, control characters replaced.
"""

from __future__ import annotations

import re
from typing import Any

import orjson
from rich.text import Text

from obra_monitor import events as ev
from obra_monitor.events import EventType

# One color per event type; the TUI uses the same.
PALETTE: dict[str, str] = {
    EventType.USER_INPUT: "cyan",
    EventType.NL_RESULT: "magenta",
    EventType.EXECUTION_RESULT: "green",
    EventType.ERROR: "bold white on red",
    EventType.ORCH_PROMPT: "yellow",
    EventType.IMPL_RESPONSE: "blue",
}
UNKNOWN_TYPE_STYLE = "white"
MALFORMED_STYLE = "dim red"
FAILED_STYLE = "bold red"
OK_STYLE = "green"
DIM = "dim"
ERROR_MESSAGE_STYLE = "bold red"

TYPE_WIDTH = 16  # "execution_result"
VALUE_LIMIT = 500  # characters of one value shown on a one-line rendering

# C0 controls (but tab), DEL, C1 controls; bidirectional overrides and isolates,
# which can reorder what a terminal shows.
_CONTROL = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_VISIBLE = {"\n": "⏎", "\r": "␍", "\x1b": "␛"}


def clean_text(value: Any, limit: int | None = None) -> str:
    """Text safe for a terminal: ESC, C0 and C1 controls become visible symbols.

    Non-strings are shown as compact JSON (`{"a":1}`, `true`, `null`); a tab
    becomes a space; `limit` cuts with an ellipsis.
    """
    if not isinstance(value, str):
        value = _json(value)
    text = _CONTROL.sub(lambda m: _VISIBLE.get(m.group(), "�"), value).replace("\t", " ")
    if limit is not None and len(text) > limit:
        text = text[: max(0, limit - 1)] + "…"
    return text


def style_for(event_type: str) -> str:
    return PALETTE.get(event_type, UNKNOWN_TYPE_STYLE)


def clock(ts: Any) -> str:
    """HH:MM:SS.mmm (UTC) of an event's `ts`; the raw text (cleaned) if unreadable."""
    parsed = ev.parse_ts(ts) if isinstance(ts, str) else None
    if parsed is None:
        return clean_text(ts, 12) if ts is not None else "--:--:--.---"
    return parsed.strftime("%H:%M:%S.%f")[:-3]


def short_session(session: Any) -> str:
    return clean_text(session)[:8] if session is not None else "-"


def is_alert(event: dict[str, Any]) -> bool:
    """Whether an event reports a failure: an error, a failed execution, implementer
    response or validation. These stand out (tail --errors-only / --bell, TUI banners)."""
    kind = event.get(ev.TYPE)
    if kind == EventType.ERROR:
        return True
    if kind in (EventType.EXECUTION_RESULT, EventType.IMPL_RESPONSE):
        return event.get(ev.SUCCESS) is False
    if kind == EventType.NL_RESULT:
        return event.get(ev.VALIDATION) == ev.VALIDATION_FAILED
    return False


def event_line(event: dict[str, Any], *, show_session: bool = True) -> Text:
    """`HH:MM:SS.mmm  session  #turn  type  details` for one event, colored by type."""
    kind = event.get(ev.TYPE)
    kind_text = clean_text(kind, TYPE_WIDTH * 2)
    style = style_for(kind_text)
    line = Text(no_wrap=True, overflow="ellipsis")
    line.append(clock(event.get(ev.TS)), DIM)
    if show_session:
        line.append("  ")
        line.append(f"{short_session(event.get(ev.SESSION)):<8}", DIM)
    turn = event.get(ev.TURN)
    line.append(f"  #{turn:<3}" if isinstance(turn, int) and not isinstance(turn, bool) else "      ", DIM)
    line.append("  ")
    label = "ERROR" if kind == EventType.ERROR else kind_text
    line.append(f"{label:<{TYPE_WIDTH}}", style)
    line.append("  ")
    details = _DETAILS.get(kind_text, _generic)
    details(line, event)
    _extras(line, event, _KNOWN_FIELDS.get(kind_text, frozenset(ev.ENVELOPE_FIELDS)))
    return line


def malformed_line(text: bytes | str, problem: str | None = None) -> Text:
    """A line that could not be read as an event, shown literally."""
    raw = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
    line = Text(no_wrap=True, overflow="ellipsis")
    line.append(f"{'malformed':<{12 + 2 + 8 + 8}}", MALFORMED_STYLE)
    line.append(f"({problem or 'malformed'}) ", MALFORMED_STYLE)
    line.append(clean_text(raw, VALUE_LIMIT), DIM)
    return line


def _user_input(line: Text, event: dict[str, Any]) -> None:
    line.append("> ", DIM)
    line.append(clean_text(event.get(ev.INPUT), VALUE_LIMIT), PALETTE[EventType.USER_INPUT])


def _nl_result(line: Text, event: dict[str, Any]) -> None:
    intent = ev.normalize_intent(event.get(ev.INTENT)) if isinstance(event.get(ev.INTENT), str) else None
    operation = event.get(ev.OPERATION)
    operation = ev.normalize_operation(operation) if isinstance(operation, str) else None
    entity = event.get(ev.ENTITY)
    parts = [clean_text(p, 40) for p in (intent, operation, entity) if p is not None]
    line.append(" ".join(parts) or "?", "bold " + PALETTE[EventType.NL_RESULT])
    identifier = event.get(ev.IDENTIFIER)
    if identifier is not None:
        line.append(f" {clean_text(identifier, 60)}")
    confidence = _number(event.get(ev.CONFIDENCE))
    if confidence is not None:
        line.append(f"  conf {confidence:.2f}", "yellow" if confidence < 0.7 else "")
    stages = event.get(ev.STAGES)
    if isinstance(stages, dict) and stages:
        shown = []
        for name, value in stages.items():
            number = _number(value)
            shown.append(f"{clean_text(name, 12)[:1]}{number:.2f}" if number is not None else
                         f"{clean_text(name, 12)[:1]}?")
        line.append(" (" + " ".join(shown) + ")", DIM)
    validation = event.get(ev.VALIDATION)
    if validation is not None:
        failed = validation == ev.VALIDATION_FAILED
        line.append(f"  validation {clean_text(validation, 20)}", FAILED_STYLE if failed else "")
    _duration(line, event.get(ev.DURATION_MS))


def _execution_result(line: Text, event: dict[str, Any]) -> None:
    success = event.get(ev.SUCCESS)
    if success is True:
        line.append("✓ ok ", OK_STYLE)
    elif success is False:
        line.append("✗ FAILED ", FAILED_STYLE)
    else:
        line.append("? ", DIM)
    line.append(clean_text(event.get(ev.MESSAGE, ""), VALUE_LIMIT), FAILED_STYLE if success is False else "")
    operation = event.get(ev.OPERATION)
    if isinstance(operation, str):
        operation = ev.normalize_operation(operation)
    what = " ".join(clean_text(p, 40) for p in (operation, event.get(ev.ENTITY)) if p is not None)
    if what:
        line.append(f"  ({what})", DIM)
    affected = event.get(ev.ENTITIES_AFFECTED)
    if affected:
        line.append(f"  {clean_text(affected, 80)}", DIM)
    _duration(line, event.get(ev.TOTAL_DURATION_MS))


def _error(line: Text, event: dict[str, Any]) -> None:
    stage = event.get(ev.STAGE)
    if stage is not None:
        line.append(f"[{clean_text(stage, 30)}] ", ERROR_MESSAGE_STYLE)
    error_type = event.get(ev.ERROR_TYPE)
    if error_type is not None:
        line.append(f"{clean_text(error_type, 60)}: ", ERROR_MESSAGE_STYLE)
    line.append(clean_text(event.get(ev.ERROR, ""), VALUE_LIMIT), ERROR_MESSAGE_STYLE)
    recoverable = event.get(ev.RECOVERABLE)
    if recoverable is True:
        line.append("  (recoverable)", DIM)
    elif recoverable is False:
        line.append("  (not recoverable)", FAILED_STYLE)
    context = event.get(ev.CONTEXT)
    if context is not None:
        line.append(f"  context {clean_text(context, 120)}", DIM)


def _orch_prompt(line: Text, event: dict[str, Any]) -> None:
    line.append(f"task {clean_text(event.get(ev.TASK_ID), 20)} → {clean_text(event.get(ev.TARGET), 40)}")
    line.append(f"  prompt {clean_text(event.get(ev.PROMPT_LENGTH), 20)} chars,"
                f" {clean_text(event.get(ev.CONTEXT_TOKENS), 20)} context tokens", DIM)


def _impl_response(line: Text, event: dict[str, Any]) -> None:
    line.append(f"task {clean_text(event.get(ev.TASK_ID), 20)} ← ")
    success = event.get(ev.SUCCESS)
    if success is True:
        line.append("✓ ok", OK_STYLE)
    elif success is False:
        line.append("✗ FAILED", FAILED_STYLE)
    line.append(f"  output {clean_text(event.get(ev.OUTPUT_LENGTH), 20)} chars", DIM)
    _duration(line, event.get(ev.DURATION_MS))


def _generic(line: Text, event: dict[str, Any]) -> None:
    """Unknown event types: all their fields (done by _extras)."""


def _extras(line: Text, event: dict[str, Any], known: frozenset[str]) -> None:
    """Fields the schema does not know are shown, never dropped."""
    for key, value in event.items():
        if key in known:
            continue
        line.append(f"  {clean_text(key, 40)}=", DIM)
        line.append(clean_text(value, 120))


def _duration(line: Text, value: Any) -> None:
    number = _number(value)
    if number is not None:
        line.append(f"  {_ms(number)}", "bold" if number >= 10_000 else DIM)


def _ms(value: float) -> str:
    return f"{value / 1000:.1f} s" if value >= 10_000 else f"{value:.0f} ms"


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def _json(value: Any) -> str:
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
    except (TypeError, orjson.JSONEncodeError):
        return repr(value)


_DETAILS = {
    EventType.USER_INPUT.value: _user_input,
    EventType.NL_RESULT.value: _nl_result,
    EventType.EXECUTION_RESULT.value: _execution_result,
    EventType.ERROR.value: _error,
    EventType.ORCH_PROMPT.value: _orch_prompt,
    EventType.IMPL_RESPONSE.value: _impl_response,
}
_KNOWN_FIELDS = {
    kind.value: frozenset(ev.ENVELOPE_FIELDS + fields) for kind, fields in ev.FIELDS_BY_TYPE.items()
}
