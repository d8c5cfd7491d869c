"""`obra-monitor session ID`: the timeline a user reads to see why a command failed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from obra_monitor import events as ev
from obra_monitor.cli import main
from obra_monitor.session import group_turns
from tests.helpers_log import SESSION_A, SESSION_B, SESSION_OLD, event, fixture_events, rotate, write_log


@pytest.fixture(autouse=True)
def wide_terminal(monkeypatch):
    """Rich wraps at 80 columns when not on a terminal; a wide one keeps each row on a line."""
    monkeypatch.setenv("COLUMNS", "250")


@pytest.fixture
def log(tmp_path: Path) -> Path:
    return write_log(tmp_path / "production.jsonl", fixture_events())


def show(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["session", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_timeline_turn_by_turn(log, capsys):
    code, out, _ = show(capsys, SESSION_A[:8], str(log))
    assert code == 0
    assert f"Session {SESSION_A}" in out
    assert "3 turns, 10 events" in out and "2 failed turns" in out
    lines = out.splitlines()
    turn2 = lines.index(next(line for line in lines if line.startswith("Turn 2")))
    assert "FAILED" in lines[turn2] and "EntityNotFoundError: Project 7 not found" in lines[turn2]
    block = "\n".join(lines[turn2:turn2 + 6])
    assert "input" in block and "delete project 7" in block
    assert "COMMAND DELETE project" in block and "identifier 7" in block and "confidence 0.80" in block
    assert "intent 0.70, operation 0.90, entity 0.80, params 0.60" in block
    assert "validation passed" in block
    assert "✗ FAILED Project 7 not found" in block
    assert "[execution] EntityNotFoundError: Project 7 not found" in block
    assert "Turn 3" in out and "validation failed" in out and 'context {"project_id":-1}' in out


def test_orchestrator_events_and_durations(log, capsys):
    _, out, _ = show(capsys, SESSION_B, str(log))
    assert "task 1 → claude-code" in out and "prompt 1500 chars, 5000 context tokens" in out
    assert "output 2300 chars" in out and "8.0 s" in out
    assert "total 11.0 s" in out


def test_older_logger_turns_are_grouped_by_user_input(log, capsys):
    _, out, _ = show(capsys, SESSION_OLD[:4], str(log))
    assert "2 turns, 6 events" in out
    assert "Turn (1, unnumbered)" in out and "Turn (2, unnumbered)" in out
    assert "COMMAND DELETE task" in out  # "command"/"delete" normalized for display
    assert "no failures" in out


def test_group_turns():
    U, N = ev.EventType.USER_INPUT, ev.EventType.NL_RESULT
    events = [event(U, turn=None, input="a"), event(N, turn=None), event(U, turn=None, input="b"),
              event(U, turn=5, input="c"), event(N, turn=5)]
    assert [(t.number, len(t.events)) for t in group_turns(events)] == [(None, 2), (None, 1), (5, 2)]


def test_ambiguous_prefix_lists_candidates_exit_2(tmp_path, capsys):
    path = write_log(tmp_path / "production.jsonl", [
        event(ev.EventType.USER_INPUT, session="abcd-0001", input="x"),
        event(ev.EventType.USER_INPUT, session="abcd-0002", input="y"),
        event(ev.EventType.USER_INPUT, session="zzzz-0003", input="z")])
    code, out, err = show(capsys, "abcd", str(path))
    assert code == 2 and out == ""
    assert "'abcd' matches 2 sessions" in err and "abcd-0001" in err and "abcd-0002" in err
    assert show(capsys, "abcd-0002", str(path))[0] == 0


def test_unknown_session_exit_1(log, capsys):
    code, out, err = show(capsys, "ffffffff", str(log))
    assert code == 1 and out == ""
    assert "no session starting with 'ffffffff'" in err


def test_missing_log_exit_2(tmp_path, capsys):
    code, _, err = show(capsys, "abc", str(tmp_path / "nope.jsonl"))
    assert code == 2 and "no such log file" in err


def test_session_across_rotated_files(tmp_path, capsys):
    path = tmp_path / "production.jsonl"
    events = fixture_events()
    write_log(path, events[:9])
    rotate(path)
    write_log(path, events[9:])
    _, out, _ = show(capsys, SESSION_A, str(path))
    assert "3 turns, 10 events" in out


def test_json_output(log, capsys):
    code, out, _ = show(capsys, SESSION_A[:8], str(log), "--json")
    document = json.loads(out)
    assert code == 0 and document["session"] == SESSION_A and document["events"] == 10
    assert [(t["turn"], t["failed"], len(t["events"])) for t in document["turns"]] == [
        (1, False, 3), (2, True, 4), (3, True, 3)]


def test_user_text_is_shown_literally(tmp_path, capsys):
    path = write_log(tmp_path / "production.jsonl", [
        event(ev.EventType.USER_INPUT, input="[bold red]x[/] \x1b[2J\x9b2J", extra_field="[i]kept[/i]"),
        event(ev.EventType.ERROR, stage="validation", error_type="E", error="[blink]no[/blink]\r\nsecond line"),
        event("custom_event", detail={"k": "[u]v[/u]"}),
    ])
    code, out, _ = show(capsys, tmp_path.name[:0] + "3f2b", str(path))
    assert code == 0
    assert "\x1b" not in out and "\x9b" not in out and "\r" not in out
    assert "[bold red]x[/] ␛[2J" in out
    assert "extra_field=[i]kept[/i]" in out
    assert "[blink]no[/blink]␍⏎second line" in out
    assert "custom_event" in out and '"[u]v[/u]"' in out
