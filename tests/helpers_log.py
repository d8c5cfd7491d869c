"""Build small production logs for tests: events, lines, rotation by rename."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import orjson

from obra_monitor import events as ev

SESSION_A = "3f2b8c1e-8d4a-4b7e-9c11-2a6f1e0d9b77"
SESSION_B = "7c1d2e3f-1111-4222-8333-944455556666"
SESSION_OLD = "0a0b0c0d-aaaa-4bbb-8ccc-ddddeeeeffff"


def event(kind: str, session: str | None = SESSION_A, turn: int | None = 1,
          ts: str = "2026-12-04T19:56:34.123456Z", **fields: Any) -> dict[str, Any]:
    """One event dict with the envelope; turn=None leaves `turn` out (older loggers)."""
    result: dict[str, Any] = {ev.TYPE: kind, ev.TS: ts, ev.SESSION: session}
    if turn is not None:
        result[ev.TURN] = turn
    result.update(fields)
    return result


def line(item: dict[str, Any] | bytes | str) -> bytes:
    """A log line (with its newline) from an event dict, or raw bytes/str as given."""
    if isinstance(item, dict):
        return orjson.dumps(item) + b"\n"
    data = item.encode() if isinstance(item, str) else item
    return data if data.endswith(b"\n") else data + b"\n"


def write_log(path: Path, items: Iterable[dict[str, Any] | bytes | str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"".join(line(item) for item in items))
    return path


def append(path: Path, items: Iterable[dict[str, Any] | bytes | str], *, raw: bytes | None = None) -> None:
    """Append whole lines (one os.write, like the writer), or `raw` bytes as they are."""
    data = raw if raw is not None else b"".join(line(item) for item in items)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


def rotate(path: Path, keep: int = 10) -> None:
    """Rotate like the writer: path.N-1 -> path.N ... path -> path.1 (rename, never copy)."""
    oldest = path.with_name(f"{path.name}.{keep}")
    if oldest.exists():
        oldest.unlink()
    for number in range(keep - 1, 0, -1):
        source = path.with_name(f"{path.name}.{number}")
        if source.exists():
            source.rename(path.with_name(f"{path.name}.{number + 1}"))
    if path.exists():
        path.rename(path.with_name(f"{path.name}.1"))


def numbered(n: int, start: int = 0, session: str = SESSION_A) -> list[dict[str, Any]]:
    """n user_input events whose input is 'event <i>', to check order and uniqueness."""
    return [event(ev.EventType.USER_INPUT, session=session, turn=i + 1, input=f"event {i}")
            for i in range(start, start + n)]


def inputs(records: Iterable[Any]) -> list[str]:
    """The `input` of each record's (or event dict's) event, in order."""
    out = []
    for item in records:
        data = item.event if hasattr(item, "event") else item
        out.append(data.get(ev.INPUT) if data else None)
    return out


def fixture_events() -> list[dict[str, Any]]:
    """A small log whose figures are computed by hand in the tests (see test_stats/test_analyze).

    Session A (new logger, with turns):
      turn 1  "delete project 12"  nl DELETE conf .9  stages i.9 o1.0 e.8 p.8  passed 1000 ms
              execution ok, total 3000 (no operation field: joined by turn)
      turn 2  "delete project 7"   nl DELETE conf .8  stages i.7 o.9 e.8 p.6  passed 2000 ms
              execution FAILED "Project 7 not found", total 5000, operation DELETE
              error execution EntityNotFoundError "Project 7 not found"
      turn 3  "create epic"        nl CREATE conf .6  validation failed 4000 ms
              error validation ValidationException "Project ID must be positive integer"
    Session B:
      turn 1  "delete project 12"  nl DELETE conf 1.0 passed 3000 ms
              orch_prompt task 1; impl_response ok 8000 ms
              execution FAILED "Project 12 not found", total 11000 (joined: DELETE)
              error execution EntityNotFoundError "Project 12 not found"
    Session OLD (older logger: no turn, no stages, lower-case operation, +00:00):
      "remove task 3"  nl delete conf .5 passed 5000 ms; execution ok total 6000 (joined: DELETE)
      "what's up?"     nl QUESTION conf .7 (no operation) 500 ms; execution ok total 700 -> UNKNOWN
    """
    U, N, X, E = (ev.EventType.USER_INPUT, ev.EventType.NL_RESULT, ev.EventType.EXECUTION_RESULT,
                  ev.EventType.ERROR)
    O, I = ev.EventType.ORCH_PROMPT, ev.EventType.IMPL_RESPONSE
    A, B, OLD = SESSION_A, SESSION_B, SESSION_OLD
    old_ts = "2026-12-04T19:00:00.000000+00:00"
    return [
        event(U, A, 1, "2026-12-04T19:56:30.000000Z", input="delete project 12"),
        event(N, A, 1, "2026-12-04T19:56:31.000000Z", intent="COMMAND", confidence=0.9, operation="DELETE",
              entity="project", identifier="12", validation="passed", duration_ms=1000.0,
              stages={"intent": 0.9, "operation": 1.0, "entity": 0.8, "params": 0.8}),
        event(X, A, 1, "2026-12-04T19:56:34.000000Z", success=True, message="Deleted 1 project",
              entities_affected={"projects": 1}, total_duration_ms=3000.0),
        event(U, B, 1, "2026-12-04T19:56:35.000000Z", input="delete project 12"),
        event(U, A, 2, "2026-12-04T19:56:40.000000Z", input="delete project 7"),
        event(N, B, 1, "2026-12-04T19:56:38.000000Z", intent="COMMAND", confidence=1.0, operation="DELETE",
              entity="project", identifier="12", validation="passed", duration_ms=3000.0),
        event(N, A, 2, "2026-12-04T19:56:42.000000Z", intent="COMMAND", confidence=0.8, operation="DELETE",
              entity="project", identifier="7", validation="passed", duration_ms=2000.0,
              stages={"intent": 0.7, "operation": 0.9, "entity": 0.8, "params": 0.6}),
        event(O, B, 1, "2026-12-04T19:56:38.500000Z", task_id=1, target="claude-code", prompt_length=1500,
              context_tokens=5000),
        event(X, A, 2, "2026-12-04T19:56:47.000000Z", success=False, message="Project 7 not found",
              entities_affected={}, total_duration_ms=5000.0, operation="DELETE", entity="project"),
        event(E, A, 2, "2026-12-04T19:56:47.000100Z", stage="execution", error_type="EntityNotFoundError",
              error="Project 7 not found", recoverable=True),
        event(I, B, 1, "2026-12-04T19:56:46.500000Z", task_id=1, success=True, duration_ms=8000.0,
              output_length=2300),
        event(X, B, 1, "2026-12-04T19:56:46.000000Z", success=False, message="Project 12 not found",
              entities_affected={}, total_duration_ms=11000.0),
        event(E, B, 1, "2026-12-04T19:56:46.000100Z", stage="execution", error_type="EntityNotFoundError",
              error="Project 12 not found", recoverable=True),
        event(U, A, 3, "2026-12-04T19:57:00.000000Z", input="create epic"),
        event(N, A, 3, "2026-12-04T19:57:04.000000Z", intent="COMMAND", confidence=0.6, operation="CREATE",
              entity="epic", identifier=None, validation="failed", duration_ms=4000.0),
        event(E, A, 3, "2026-12-04T19:57:04.000100Z", stage="validation", error_type="ValidationException",
              error="Project ID must be positive integer", recoverable=True, context={"project_id": -1}),
        event(U, OLD, None, old_ts, input="remove task 3"),
        event(N, OLD, None, old_ts, intent="command", confidence=0.5, operation="delete", entity="task",
              identifier="3", validation="passed", duration_ms=5000),
        event(X, OLD, None, old_ts, success=True, message="Deleted task 3", entities_affected={"tasks": 1},
              total_duration_ms=6000),
        event(U, OLD, None, old_ts, input="what's up?"),
        event(N, OLD, None, old_ts, intent="QUESTION", confidence=0.7, operation=None, entity=None,
              identifier=None, validation="passed", duration_ms=500),
        event(X, OLD, None, old_ts, success=True, message="Answered", entities_affected={},
              total_duration_ms=700),
    ]


def read_events(path: Path) -> list[dict[str, Any]]:
    """Every event of a rotated set, oldest file first, parsed plainly (not through reader.py,
    so a reader bug cannot hide a writer bug)."""
    rotated = sorted(path.parent.glob(path.name + ".[0-9]*"), key=lambda p: -int(p.suffix[1:]))
    events = []
    for file in [*rotated, path]:
        if file.exists():
            events.extend(orjson.loads(raw) for raw in file.read_bytes().splitlines())
    return events
