"""`obra-monitor analyze` as a user runs it: report figures, JSON keys, exit codes, bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from obra_monitor import events as ev
from obra_monitor.analyze import parse_since
from obra_monitor.cli import main
from obra_monitor.errors import UsageError
from tests.helpers_log import SESSION_A, SESSION_B, event, fixture_events, write_log

OBRA_MONITOR = Path(sys.executable).with_name("obra-monitor")
JSON_KEYS = {"schema", "generated_at", "source", "filter", "events", "time_range", "sessions", "turns",
             "operations", "execution", "validation", "confidence", "latency_ms", "implementer", "errors",
             "top_errors", "failed_executions", "other_failures", "slowest", "recent_failures"}


@pytest.fixture
def log(tmp_path: Path) -> Path:
    return write_log(tmp_path / "production.jsonl", fixture_events())


def run_json(capsys, *args: str) -> dict:
    assert main(["analyze", *args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_json_report_answers_the_questions(log, capsys):
    report = run_json(capsys, str(log))
    assert set(report) == JSON_KEYS
    assert report["schema"] == 1
    # "What's the success rate for DELETE?"
    assert report["operations"]["DELETE"]["success_rate"] == 0.5
    # "What's P95 latency for NL processing?"
    assert report["latency_ms"]["nl"]["p95"] == 4750.0
    # "What are the top 5 failure modes?"
    assert [(e["error_type"], e["message"], e["count"]) for e in report["top_errors"]] == [
        ("EntityNotFoundError", "Project <n> not found", 2),
        ("ValidationException", "Project ID must be positive integer", 1)]
    assert report["source"] == {"path": str(log), "files": [str(log)], "bytes": log.stat().st_size,
                                "malformed_lines": 0, "malformed_examples": []}
    assert report["filter"] == {"since": None, "session": None}


def test_text_report_shows_the_figures(log, capsys):
    assert main(["analyze", str(log)]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out  # not a terminal: no styling
    assert "22 events" in out and "3 sessions, 6 turns" in out
    delete_row = next(line for line in out.splitlines() if line.startswith("DELETE"))
    assert delete_row.split() == ["DELETE", "4", "2", "2", "50.0%"]
    nl_row = next(line for line in out.splitlines() if line.startswith("NL processing"))
    assert nl_row.split()[2:6] == ["6", "2,500", "4,750", "4,950"]
    assert "EntityNotFoundError" in out and "Project <n> not found" in out
    assert "validation: 1 of 6 parses failed (16.7%)" in out
    # "Why did this user's command fail?" -> the session command, with the full id
    assert f"obra-monitor session {SESSION_A}" in out


def test_top_limits_the_tables(log, capsys):
    report = run_json(capsys, str(log), "--top", "1")
    assert len(report["top_errors"]) == 1 and len(report["slowest"]) == 1


def test_missing_log_is_exit_2_with_a_clear_message(tmp_path, capsys):
    assert main(["analyze", str(tmp_path / "nope.jsonl")]) == 2
    err = capsys.readouterr().err
    assert "nope.jsonl: no such log file" in err and "Traceback" not in err
    assert main(["analyze", str(tmp_path)]) == 2
    assert "is a directory" in capsys.readouterr().err


def test_empty_log_says_so(tmp_path, capsys):
    path = tmp_path / "production.jsonl"
    path.write_bytes(b"")
    assert main(["analyze", str(path)]) == 0
    assert "No events to report: the log is empty." in capsys.readouterr().out
    report = run_json(capsys, str(path))
    assert report["events"]["total"] == 0 and report["latency_ms"]["nl"]["p95"] is None


def test_garbage_binary_and_huge_lines_are_counted_not_fatal(tmp_path, capsys):
    path = write_log(tmp_path / "production.jsonl", [
        b"\x00\x01\x02\xff binary junk",
        b"{not json",
        b"[1, 2, 3]",
        b'{"no": "type"}',
        event(ev.EventType.USER_INPUT, input="x" * (2 << 20)),  # over the 1 MiB line cap
        event(ev.EventType.NL_RESULT, duration_ms="fast", confidence=True, session=None),
        *fixture_events(),
    ])
    report = run_json(capsys, str(path))
    assert report["source"]["malformed_lines"] == 5
    assert {e["problem"] for e in report["source"]["malformed_examples"]} == {
        "not JSON", "not a JSON object", 'no "type" string', "line too long"}
    assert report["events"]["total"] == 23
    assert report["latency_ms"]["nl"]["count"] == 6
    assert main(["analyze", str(path)]) == 0
    assert "5 malformed lines skipped" in capsys.readouterr().out


def test_since_relative_to_now(tmp_path, capsys):
    now = datetime.now(timezone.utc)
    stamp = lambda delta: (now - delta).strftime("%Y-%m-%dT%H:%M:%S.%fZ")  # noqa: E731
    path = write_log(tmp_path / "production.jsonl", [
        event(ev.EventType.USER_INPUT, ts=stamp(timedelta(days=3)), input="old"),
        event(ev.EventType.USER_INPUT, ts=stamp(timedelta(hours=2)), input="recent"),
        event(ev.EventType.USER_INPUT, ts=(now - timedelta(minutes=5)).isoformat(), input="+00:00 style"),
        event(ev.EventType.USER_INPUT, ts="not a time", input="undated"),
    ])
    assert run_json(capsys, str(path), "--since", "24h")["events"]["total"] == 2
    assert run_json(capsys, str(path), "--since", "30m")["events"]["total"] == 1
    assert run_json(capsys, str(path), "--since", "7d")["events"]["total"] == 3
    report = run_json(capsys, str(path), "--since", stamp(timedelta(hours=3)))
    assert report["events"]["total"] == 2 and report["filter"]["since"].endswith("Z")


def test_since_garbage_is_exit_2(log, capsys):
    assert main(["analyze", str(log), "--since", "last tuesday"]) == 2
    err = capsys.readouterr().err
    assert "--since 'last tuesday'" in err and "24h" in err


@pytest.mark.parametrize(("text", "expected"), [
    ("30m", timedelta(minutes=30)), ("24h", timedelta(hours=24)), ("7d", timedelta(days=7)),
    ("2w", timedelta(weeks=2)), ("90s", timedelta(seconds=90)), ("1.5h", timedelta(minutes=90)),
])
def test_parse_since_durations(text, expected):
    now = datetime(2026, 12, 4, 20, 0, tzinfo=timezone.utc)
    assert parse_since(text, now) == now - expected


def test_parse_since_iso_dates_are_utc_unless_they_say_otherwise():
    assert parse_since("2026-12-04") == datetime(2026, 12, 4, tzinfo=timezone.utc)
    assert parse_since("2026-12-04T18:00:00Z") == datetime(2026, 12, 4, 18, tzinfo=timezone.utc)
    assert parse_since("2026-12-04T20:00:00+02:00") == datetime(2026, 12, 4, 18, tzinfo=timezone.utc)
    with pytest.raises(UsageError):
        parse_since("")


def test_session_filter(log, capsys):
    report = run_json(capsys, str(log), "--session", SESSION_B[:6])
    assert report["sessions"]["count"] == 1 and report["events"]["total"] == 6
    assert report["operations"]["DELETE"] == {"total": 1, "succeeded": 0, "failed": 1, "success_rate": 0.0}
    assert main(["analyze", str(log), "--session", ""]) == 2
    capsys.readouterr()


def test_session_filter_ambiguous_or_unknown(tmp_path, capsys):
    path = write_log(tmp_path / "production.jsonl", [
        event(ev.EventType.USER_INPUT, session="abc-1", input="x"),
        event(ev.EventType.USER_INPUT, session="abc-2", input="y")])
    assert main(["analyze", str(path), "--session", "abc"]) == 2
    err = capsys.readouterr().err
    assert "matches 2 sessions" in err and "abc-1" in err and "abc-2" in err
    assert main(["analyze", str(path), "--session", "zzz"]) == 1
    assert "no session starting with 'zzz'" in capsys.readouterr().err


def test_user_text_cannot_style_the_report(tmp_path, capsys):
    path = write_log(tmp_path / "production.jsonl", [
        event(ev.EventType.USER_INPUT, input="[bold red]boom[/] \x1b[2J"),
        event(ev.EventType.EXECUTION_RESULT, success=False, message="[link=http://x]click[/link] \x1b]0;t\x07",
              total_duration_ms=10.0, operation="[blink]DELETE"),
        event(ev.EventType.ERROR, stage="[red]x", error_type="E\x1b[31m", error="bad [b]thing[/b]"),
    ])
    assert main(["analyze", str(path)]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x07" not in out
    assert "[bold red]boom[/]" in out and "[link=http://x]click[/link]" in out
    assert "bad [b]thing[/b]" in out and "[BLINK]DELETE" in out


def test_log_path_from_config(log, tmp_path, capsys):
    config = tmp_path / "app.yaml"
    config.write_text(f"monitoring:\n  production_logging:\n    path: {log}\n")
    assert run_json(capsys, "--config", str(config))["events"]["total"] == 22


def test_rotated_files_are_included(tmp_path, capsys):
    path = tmp_path / "production.jsonl"
    events = fixture_events()
    write_log(path.with_name("production.jsonl.1"), events[:10])
    write_log(path, events[10:])
    report = run_json(capsys, str(path))
    assert report["events"]["total"] == 22 and report["operations"]["DELETE"]["total"] == 4
    assert report["source"]["files"] == [str(path.with_name("production.jsonl.1")), str(path)]


def test_real_command_line(log):
    done = subprocess.run([str(OBRA_MONITOR), "analyze", str(log), "--json"], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["operations"]["DELETE"]["success_rate"] == 0.5
    done = subprocess.run([str(OBRA_MONITOR), "analyze", str(log.with_name("missing.jsonl"))],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "no such log file" in done.stderr and done.stdout == ""
