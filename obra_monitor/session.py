"""`obra-monitor session ID`: one session's timeline, turn by turn.

Answers "why did this user's command fail?": for every turn, what was typed,
how it was parsed (intent, operation, entity, identifier, confidence per NL
stage, validation), what the orchestrator asked the implementer, how the
execution ended and every error with its stage, type and message.

A unique prefix of the session id is enough. An ambiguous prefix lists the
matching sessions and exits 2; a session that is not in the log exits 1.
Events without `turn` (older loggers) are grouped by each user_input.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from obra_monitor import events as ev
from obra_monitor.analyze import require_log
from obra_monitor.config import resolve_log_path
from obra_monitor.errors import ObraMonitorError, UsageError
from obra_monitor.events import EventType
from obra_monitor.reader import EventScan, LogSet
from obra_monitor.render import PALETTE, clean_text, clock, is_alert
from obra_monitor.stats import Stats

MAX_CANDIDATES = 20


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "session",
        help="show one session's timeline, turn by turn",
        description=(
            "Show everything one session logged, turn by turn: input, parse, execution, "
            "errors and durations. ID may be any unique prefix of the session id. "
            "Exits 2 when the prefix matches several sessions (they are listed), "
            "1 when no session matches."
        ),
    )
    parser.add_argument("id", metavar="ID", help="session id, or a unique prefix of it")
    parser.add_argument("path", nargs="?", help="log file (default: from --config, else the default path)")
    parser.add_argument("--config", metavar="FILE", help="application config file to take the log path from")
    parser.add_argument("--json", action="store_true", help="print the session's turns and events as JSON")
    parser.set_defaults(run=run)


@dataclass
class Turn:
    number: int | None
    events: list[dict[str, Any]] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return any(is_alert(event) for event in self.events)

    def first(self, kind: str) -> dict[str, Any] | None:
        return next((e for e in self.events if e.get(ev.TYPE) == kind), None)


def run(args: argparse.Namespace) -> int:
    prefix = args.id.strip()
    if not prefix:
        raise UsageError("ID: expected a session id or a prefix of one")
    path = resolve_log_path(args.path, args.config)
    require_log(path)
    session, events = find_session(path, prefix)
    turns = group_turns(events)
    if args.json:
        document = {"session": session, "events": len(events),
                    "turns": [{"turn": t.number, "failed": t.failed, "events": t.events} for t in turns]}
        sys.stdout.write(orjson.dumps(document, option=orjson.OPT_INDENT_2).decode() + "\n")
        return 0
    Console(highlight=False, emoji=False, markup=False).print(render_session(session, events, turns))
    return 0


def find_session(path: Path, prefix: str) -> tuple[str, list[dict[str, Any]]]:
    """The one session whose id starts with `prefix`, and its events in log order."""
    by_session: dict[str, list[dict[str, Any]]] = {}
    matching: set[str] = set()
    with LogSet(path) as log_set:
        scan = EventScan([s for run in log_set.segments(1) for s in run], prefilter=prefix.encode())
        for batch in scan:
            for event in batch:
                session = event.get(ev.SESSION)
                if isinstance(session, str) and session.startswith(prefix):
                    matching.add(session)
                    if session not in by_session and len(by_session) >= MAX_CANDIDATES:
                        continue  # ambiguous already: keep events of the first few candidates only
                    by_session.setdefault(session, []).append(event)
    if not by_session:
        raise ObraMonitorError(
            f"no session starting with {prefix!r} in {path} "
            "(list recent sessions with 'obra-monitor analyze' or 'obra-monitor tail')"
        )
    if len(matching) > 1:
        candidates = sorted(by_session, key=lambda s: _last_ts(by_session[s]), reverse=True)
        lines = [f"  {clean_text(s)}  {len(by_session[s])} events, last {clean_text(_last_ts(by_session[s]))}"
                 for s in candidates]
        if len(matching) > len(candidates):
            lines.append(f"  ... and {len(matching) - len(candidates)} more")
        raise UsageError(f"{prefix!r} matches {len(matching)} sessions; give more of the id:\n" + "\n".join(lines))
    (session, events), = by_session.items()
    return session, events


def _last_ts(events: list[dict[str, Any]]) -> str:
    stamps = [e.get(ev.TS) for e in events if isinstance(e.get(ev.TS), str)]
    return max(stamps) if stamps else ""


def group_turns(events: list[dict[str, Any]]) -> list[Turn]:
    """Events by turn number; events without one go with the latest user_input before them."""
    turns: list[Turn] = []
    numbered: dict[int, Turn] = {}
    loose: Turn | None = None
    for event in events:
        number = event.get(ev.TURN)
        if isinstance(number, int) and not isinstance(number, bool):
            turn = numbered.get(number)
            if turn is None:
                turn = numbered[number] = Turn(number)
                turns.append(turn)
        else:
            if loose is None or event.get(ev.TYPE) == EventType.USER_INPUT:
                loose = Turn(None)
                turns.append(loose)
            turn = loose
        turn.events.append(event)
    return turns


# ---------------------------------------------------------------------------
# Rendering: Text only, every value cleaned


def render_session(session: str, events: list[dict[str, Any]], turns: list[Turn]) -> Group:
    stats = Stats()
    stats.add_many(events)
    summary = stats.summary()
    header = Text()
    header.append("Session ", "bold")
    header.append(clean_text(session), "bold cyan")
    first, last = summary["time_range"]["first"], summary["time_range"]["last"]
    header.append(f"\n{len(turns)} turn{'s' if len(turns) != 1 else ''}, {len(events)} events")
    if first:
        header.append(f", {clean_text(first)} to {clean_text(last)}")
    failed_turns = sum(1 for turn in turns if turn.failed)
    if failed_turns:
        header.append(f"\n{failed_turns} failed turn{'s' if failed_turns != 1 else ''}", "bold red")
        header.append(f" ({summary['errors']['total']} error events, "
                      f"{summary['execution']['failed']} failed executions)", "red")
    else:
        header.append("\nno failures", "green")
    parts: list[Any] = [header]
    for index, turn in enumerate(turns, 1):
        parts.append(Text(""))
        parts.append(_turn_title(turn, index))
        parts.append(_turn_table(turn))
    return Group(*parts)


def _turn_title(turn: Turn, index: int) -> Text:
    title = Text()
    title.append(f"Turn {turn.number}" if turn.number is not None else f"Turn ({index}, unnumbered)", "bold")
    stamps = [e.get(ev.TS) for e in turn.events if e.get(ev.TS) is not None]
    if stamps:
        title.append(f"  {clock(stamps[0])}", "dim")
    if turn.failed:
        title.append("  FAILED", "bold white on red")
        reason = _failure_reason(turn)
        if reason:
            title.append("  ")
            title.append(reason, "bold red")
    return title


def _failure_reason(turn: Turn) -> str | None:
    for event in turn.events:
        if event.get(ev.TYPE) == EventType.ERROR:
            kind = event.get(ev.ERROR_TYPE)
            prefix = f"{clean_text(kind, 60)}: " if kind is not None else ""
            return prefix + clean_text(event.get(ev.ERROR, ""), 200)
    for event in turn.events:
        if event.get(ev.TYPE) == EventType.EXECUTION_RESULT and event.get(ev.SUCCESS) is False:
            return clean_text(event.get(ev.MESSAGE, "execution failed"), 200)
    for event in turn.events:
        if event.get(ev.TYPE) == EventType.NL_RESULT and event.get(ev.VALIDATION) == ev.VALIDATION_FAILED:
            return "validation failed"
    return None


def _turn_table(turn: Turn) -> Table:
    table = Table.grid(padding=(0, 2))
    table.add_column(style="dim", no_wrap=True)
    table.add_column(no_wrap=True)
    table.add_column(overflow="fold")
    for event in turn.events:
        kind = event.get(ev.TYPE)
        render = _ROWS.get(kind if isinstance(kind, str) else "", _other)
        label, text = render(event)
        _extras(text, event)
        table.add_row(clock(event.get(ev.TS)), Text(label, PALETTE.get(kind, "white") if kind != EventType.ERROR
                                                    else "bold red"), text)
    return table


def _input_row(event: dict[str, Any]) -> tuple[str, Text]:
    return "input", Text(clean_text(event.get(ev.INPUT, "")), "bold")


def _nl_row(event: dict[str, Any]) -> tuple[str, Text]:
    text = Text()
    parts = []
    for key, normalize in ((ev.INTENT, ev.normalize_intent), (ev.OPERATION, ev.normalize_operation),
                           (ev.ENTITY, ev.normalize_entity)):
        value = event.get(key)
        if value is not None:
            parts.append(clean_text(normalize(value) if isinstance(value, str) else value, 40))
    text.append(" ".join(parts) or "?", "bold")
    identifier = event.get(ev.IDENTIFIER)
    if identifier is not None:
        text.append("  identifier ", "dim")
        text.append(clean_text(identifier, 120))
    confidence = _number(event.get(ev.CONFIDENCE))
    if confidence is not None:
        text.append("  confidence ", "dim")
        text.append(f"{confidence:.2f}", "yellow" if confidence < 0.7 else "")
    stages = event.get(ev.STAGES)
    if isinstance(stages, dict) and stages:
        shown = ", ".join(f"{clean_text(k, 20)} {_number(v):.2f}" if _number(v) is not None
                          else f"{clean_text(k, 20)} {clean_text(v, 20)}" for k, v in stages.items())
        text.append(f" ({shown})", "dim")
    validation = event.get(ev.VALIDATION)
    if validation is not None:
        text.append("  validation ", "dim")
        text.append(clean_text(validation, 20), "bold red" if validation == ev.VALIDATION_FAILED else "green")
    _duration(text, event.get(ev.DURATION_MS))
    return "parsed", text


def _execution_row(event: dict[str, Any]) -> tuple[str, Text]:
    text = Text()
    success = event.get(ev.SUCCESS)
    if success is True:
        text.append("✓ ", "green")
    elif success is False:
        text.append("✗ FAILED ", "bold red")
    text.append(clean_text(event.get(ev.MESSAGE, "")), "bold red" if success is False else "")
    affected = event.get(ev.ENTITIES_AFFECTED)
    if affected:
        text.append(f"  affected {clean_text(affected, 200)}", "dim")
    _duration(text, event.get(ev.TOTAL_DURATION_MS), "total")
    return "result", text


def _error_row(event: dict[str, Any]) -> tuple[str, Text]:
    text = Text()
    stage = event.get(ev.STAGE)
    text.append(f"[{clean_text(stage, 40) if stage is not None else '-'}] ", "red")
    error_type = event.get(ev.ERROR_TYPE)
    if error_type is not None:
        text.append(f"{clean_text(error_type, 80)}: ", "bold red")
    text.append(clean_text(event.get(ev.ERROR, "")), "bold red")
    recoverable = event.get(ev.RECOVERABLE)
    if recoverable is not None:
        text.append("  recoverable" if recoverable is True else f"  recoverable={clean_text(recoverable)}", "dim")
    context = event.get(ev.CONTEXT)
    if context is not None:
        text.append("  context ", "dim")
        text.append(clean_text(context, 500))
    return "error", text


def _prompt_row(event: dict[str, Any]) -> tuple[str, Text]:
    text = Text(f"task {clean_text(event.get(ev.TASK_ID), 20)} → {clean_text(event.get(ev.TARGET), 60)}")
    text.append(f"  prompt {clean_text(event.get(ev.PROMPT_LENGTH), 20)} chars, "
                f"{clean_text(event.get(ev.CONTEXT_TOKENS), 20)} context tokens", "dim")
    return "prompt", text


def _response_row(event: dict[str, Any]) -> tuple[str, Text]:
    text = Text(f"task {clean_text(event.get(ev.TASK_ID), 20)} ")
    success = event.get(ev.SUCCESS)
    text.append("✓" if success is True else "✗ FAILED" if success is False else "?",
                "green" if success is True else "bold red")
    text.append(f"  output {clean_text(event.get(ev.OUTPUT_LENGTH), 20)} chars", "dim")
    _duration(text, event.get(ev.DURATION_MS))
    return "response", text


def _other(event: dict[str, Any]) -> tuple[str, Text]:
    return clean_text(event.get(ev.TYPE), 30), Text()


def _extras(text: Text, event: dict[str, Any]) -> None:
    kind = event.get(ev.TYPE)
    known = set(ev.ENVELOPE_FIELDS) | set(_FIELDS.get(kind, ()))
    for key, value in event.items():
        if key not in known:
            text.append(f"  {clean_text(key, 40)}=", "dim")
            text.append(clean_text(value, 300))


def _duration(text: Text, value: Any, label: str = "") -> None:
    number = _number(value)
    if number is not None:
        shown = f"{number / 1000:.1f} s" if number >= 1000 else f"{number:.0f} ms"
        text.append(f"  {label + ' ' if label else ''}{shown}", "dim")


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


_FIELDS = {kind.value: fields for kind, fields in ev.FIELDS_BY_TYPE.items()}
_ROWS = {
    EventType.USER_INPUT.value: _input_row,
    EventType.NL_RESULT.value: _nl_row,
    EventType.EXECUTION_RESULT.value: _execution_row,
    EventType.ERROR.value: _error_row,
    EventType.ORCH_PROMPT.value: _prompt_row,
    EventType.IMPL_RESPONSE.value: _response_row,
}
