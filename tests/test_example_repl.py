"""`obra-monitor repl`, driven as a user drives it, then checked by reading its log back."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import pexpect
import pytest

from obra_monitor.example_repl import InteractiveMode, RuleBasedNLProcessor, app_config
from tests.helpers_log import read_events

BIN = Path(sys.executable).with_name("obra-monitor")
COMMAND = [str(BIN)] if BIN.exists() else [sys.executable, "-m", "obra_monitor"]
UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
SECRET_KEY = "sk-proj-a1B2c3D4e5F6g7H8i9J0kLmNoPq"
EMAIL = "alice.doe@example.com"

# A session touching every path: slash commands, all four operations, a question, the
# implementer, a validation failure, an execution failure, and a line full of secrets.
SESSION_LINES = [
    "/help",
    "show projects",
    "create epic for auth module in project 1",
    f"create task email {EMAIL} key {SECRET_KEY} in story 1",
    "mark story 1 done",
    "show tasks 1-15",
    "run task 1",
    "delete project -1",
    "delete task 99",
    "how many tasks are there?",
    "delete all projects",
    "/status",
    "/history",
    "exit",
]


def write_config(tmp_path: Path, log: Path, **extra: str) -> Path:
    """An application config with a monitoring section; other sections are the host's own."""
    lines = ["app:", "  name: obra", "monitoring:", "  production_logging:", f"    path: {log}",
             "    events:", "      orchestrator_prompts: true", "      implementer_responses: true"]
    lines += [f"    {key}: {value}" for key, value in extra.items()]
    config = tmp_path / "app.yaml"
    config.write_text("\n".join(lines) + "\n")
    return config


def by_turn(events: list[dict[str, Any]]) -> dict[int, list[dict[str, Any]]]:
    turns: dict[int, list[dict[str, Any]]] = {}
    for event in events:
        turns.setdefault(event["turn"], []).append(event)
    return turns


def check_session_log(events: list[dict[str, Any]]) -> None:
    """What SESSION_LINES must leave in the log, turn by turn."""
    sessions = {event["session"] for event in events}
    assert len(sessions) == 1 and UUID4.match(sessions.pop())
    turns = by_turn(events)
    assert sorted(turns) == list(range(1, len(SESSION_LINES) + 1))
    stamps = [datetime.fromisoformat(event["ts"]) for event in events]
    assert stamps == sorted(stamps) and all(stamp.tzinfo is not None for stamp in stamps)
    assert {event["type"] for event in events} == {
        "user_input", "nl_result", "execution_result", "error", "orch_prompt", "impl_response"}

    def types(turn: int) -> list[str]:
        return [event["type"] for event in turns[turn]]

    for number, line in enumerate(SESSION_LINES, 1):
        first = turns[number][0]
        assert first["type"] == "user_input"
        if SECRET_KEY not in line:
            assert first["input"] == line
    for number in (1, 12, 13, 14):  # slash commands and exit: the input only
        assert types(number) == ["user_input"]

    _, parse, result = turns[2]
    assert parse["intent"] == "COMMAND" and parse["operation"] == "QUERY" and parse["entity"] == "project"
    assert parse["validation"] == "passed" and 0 < parse["confidence"] <= 1
    assert set(parse["stages"]) == {"intent", "operation", "entity", "params"}
    assert parse["duration_ms"] >= 0
    assert result["success"] is True and result["message"] == "Found 2 projects"
    assert result["entities_affected"] == {"projects": 2}
    assert (result["operation"], result["entity"]) == ("QUERY", "project")
    assert result["total_duration_ms"] >= parse["duration_ms"]

    assert turns[3][1]["operation"] == "CREATE" and turns[3][1]["entity"] == "epic"
    assert turns[3][2]["message"] == "Created epic #2 'auth module' in project 1"

    secrets = turns[4]
    assert secrets[0]["input"] == "create task email [EMAIL] key [API_KEY] in story 1"
    assert "[EMAIL]" in secrets[2]["message"] and "[API_KEY]" in secrets[2]["message"]

    assert turns[5][1]["operation"] == "UPDATE" and turns[5][1]["identifier"] == 1
    assert turns[6][1]["identifier"] == "1-15" and turns[6][2]["entities_affected"] == {"tasks": 3}

    assert types(7) == ["user_input", "nl_result", "orch_prompt", "impl_response", "execution_result"]
    _, _, prompt, response, done = turns[7]
    assert prompt["task_id"] == 1 and prompt["target"] == "claude-code"
    assert prompt["prompt_length"] > 0 and prompt["context_tokens"] > 0
    assert response["task_id"] == 1 and response["success"] is True and response["output_length"] > 0
    assert done["success"] is True

    assert types(8) == ["user_input", "nl_result", "error"]
    _, invalid, error = turns[8]
    assert invalid["validation"] == "failed" and invalid["identifier"] == -1
    assert error["stage"] == "validation" and error["error_type"] == "ValidationException"
    assert error["error"] == "Project ID must be positive integer, got -1" and error["recoverable"] is True

    assert types(9) == ["user_input", "nl_result", "error", "execution_result"]
    _, _, missing, failed = turns[9]
    assert missing["stage"] == "execution" and missing["error_type"] == "EntityNotFoundError"
    assert missing["error"] == "Task 99 not found"
    assert failed["success"] is False and failed["message"] == "Task 99 not found"

    _, question, answer = turns[10]
    assert question["intent"] == "QUESTION" and question["operation"] is None
    assert answer["success"] is True and answer["message"] == "There are 3 tasks."

    _, delete_all, deleted = turns[11]
    assert (delete_all["operation"], delete_all["entity"], delete_all["identifier"]) == (
        "DELETE", "project", "__ALL__")
    assert deleted["message"] == "Deleted 2 projects" and deleted["entities_affected"] == {"projects": 2}


def test_a_terminal_session_is_logged_turn_by_turn(tmp_path: Path) -> None:
    log = tmp_path / "logs" / "production.jsonl"
    config = write_config(tmp_path, log)
    child = pexpect.spawn(COMMAND[0], [*COMMAND[1:], "repl", "--config", str(config)],
                          encoding="utf-8", timeout=30, env={**os.environ, "TERM": "dumb"},
                          dimensions=(40, 200))
    try:
        child.expect_exact("Type /help")
        for line in SESSION_LINES:
            child.expect_exact("obra> ")
            child.sendline(line)
            if line == "show projects":
                child.expect_exact("Found 2 projects")
            elif line == "delete project -1":
                child.expect_exact("Invalid command: Project ID must be positive integer, got -1")
            elif line == "delete task 99":
                child.expect_exact("Failed: Task 99 not found")
        child.expect_exact("Bye.")
        child.expect(pexpect.EOF)
    finally:
        child.close()
    assert child.exitstatus == 0
    check_session_log(read_events(log))
    assert SECRET_KEY.encode() not in log.read_bytes() and EMAIL.encode() not in log.read_bytes()


def test_piped_stdin_works_without_prompts(tmp_path: Path) -> None:
    log = tmp_path / "production.jsonl"
    config = write_config(tmp_path, tmp_path / "ignored.jsonl")
    done = subprocess.run([*COMMAND, "repl", "--config", str(config), "--path", str(log)],
                          input="\n".join(SESSION_LINES) + "\n", capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert "obra> " not in done.stdout
    assert "Found 2 projects" in done.stdout and "Deleted 2 projects" in done.stdout
    assert not (tmp_path / "ignored.jsonl").exists()  # --path wins over the config's path
    check_session_log(read_events(log))


def test_end_of_input_ends_the_session_quietly(tmp_path: Path) -> None:
    log = tmp_path / "production.jsonl"
    done = subprocess.run([*COMMAND, "repl", "--path", str(log)], input="show tasks\n",
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stderr == ""
    assert [event["type"] for event in read_events(log)] == ["user_input", "nl_result", "execution_result"]


def test_rotation_keeps_every_turn_in_order(tmp_path: Path) -> None:
    log = tmp_path / "production.jsonl"
    config = write_config(tmp_path, log, rotation="{max_file_size_mb: 0.001, max_files: 50}")
    lines = [f"create task number {n} in story 1" for n in range(1, 31)] + ["show tasks", "exit"]
    done = subprocess.run([*COMMAND, "repl", "--config", str(config)], input="\n".join(lines) + "\n",
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert len(list(tmp_path.glob("production.jsonl.[0-9]*"))) >= 5
    assert all(file.stat().st_size < 1100 + 400 for file in tmp_path.glob("production.jsonl.[0-9]*"))
    events = read_events(log)
    assert sorted(by_turn(events)) == list(range(1, len(lines) + 1))
    assert [event["turn"] for event in events] == sorted(event["turn"] for event in events)
    assert events[-2]["message"] == "Found 32 tasks"


def test_a_broken_config_is_one_line_and_exit_2(tmp_path: Path) -> None:
    config = tmp_path / "app.yaml"
    config.write_text("monitoring:\n  production_logging:\n    rotation:\n      max_files: -1\n")
    done = subprocess.run([*COMMAND, "repl", "--config", str(config)], input="", capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"obra-monitor: {config}: monitoring.production_logging.rotation.max_files: "
        "expected a number at least 1, got -1"]


def test_disabled_logging_still_runs_the_repl(tmp_path: Path) -> None:
    config = tmp_path / "app.yaml"
    config.write_text(f"monitoring:\n  production_logging:\n    enabled: false\n    path: {tmp_path / 'p.jsonl'}\n")
    out = io.StringIO()
    mode = InteractiveMode(app_config(str(config), None), stdout=out)
    assert mode.run(io.StringIO("show projects\n/status\n")) == 0
    assert "logging disabled" in out.getvalue() and "Found 2 projects" in out.getvalue()
    assert not (tmp_path / "p.jsonl").exists()


# -- in process: the same REPL, for coverage of every branch -------------------------------------

def run_lines(tmp_path: Path, *lines: str) -> tuple[str, list[dict[str, Any]]]:
    log = tmp_path / "production.jsonl"
    out = io.StringIO()
    mode = InteractiveMode(app_config(None, str(log)), stdout=out)
    assert mode.run(io.StringIO("".join(f"{line}\n" for line in lines))) == 0
    return out.getvalue(), read_events(log)


def test_in_process_session_covers_every_command(tmp_path: Path) -> None:
    output, events = run_lines(
        tmp_path,
        "add task 'write docs' to story 1", "rename task 2 to login tests", "set task 3 status to blocked",
        "complete story 1", "work on task 2", "list open tasks", "show blocked tasks in story 1",
        "delete tasks 1-2", "delete widget 3", "mark task 3 finished-ish", "create epic",
        "delete task", "delete task 3 4 5", "create", "hello there", "what's the difference between a story and a task?",
        "/nope", "   ", "quit", "show projects",
    )
    assert "Renamed task 2 to 'login tests'" in output
    assert "Marked task 3 blocked" in output and "Marked story 1 done" in output
    assert "Implementer finished task 2" in output
    assert "Deleted 2 tasks" in output
    assert "Unknown entity type 'widget'" in output
    assert "Unknown status 'finished-ish'" in output
    assert "Missing required parameter 'title' for CREATE epic" in output
    assert "Say which task to delete" in output
    assert "Could not read the parameters in 'task 3 4 5'" in output
    assert "Invalid command: Missing entity type" in output
    assert "did not understand that (confidence 0.20)" in output
    assert "A story is a user-facing piece of an epic" in output
    assert "Unknown command /nope" in output
    assert "Found 2 projects" not in output  # nothing runs after quit
    low = next(e for e in events if e["type"] == "nl_result" and e["confidence"] == 0.2)
    assert low["validation"] == "failed" and low["operation"] is None
    errors = [e for e in events if e["type"] == "error"]
    assert [e["stage"] for e in errors] == ["validation"] * 6
    # orch_prompt / impl_response are off by default: the implementer ran, nothing was logged
    assert not [e for e in events if e["type"] in ("orch_prompt", "impl_response")]
    assert events[-1] == {**events[-1], "type": "user_input", "input": "quit"}


def test_exceptions_escaping_a_turn_are_logged_and_the_repl_goes_on(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(self: Any, parsed: Any) -> dict[str, Any]:
        raise RuntimeError("database is locked")

    monkeypatch.setattr("obra_monitor.example_repl.Orchestrator.execute_nl_command", broken)
    output, events = run_lines(tmp_path, "show tasks", "/history")
    assert "Internal error: RuntimeError: database is locked" in output
    error = events[2]
    assert error == {**error, "type": "error", "stage": "execution", "error_type": "RuntimeError",
                     "recoverable": False}
    assert events[-1]["input"] == "/history" and events[-1]["turn"] == 2


@pytest.mark.parametrize(("text", "operation", "entity", "identifier"), [
    ("delete all projects", "DELETE", "project", "__ALL__"),
    ("show tasks 1-15", "QUERY", "task", "1-15"),
    ("mark story 42 done", "UPDATE", "story", 42),
    ("create epic for auth module in project 7", "CREATE", "epic", None),
    ("remove subtasks 3 - 9", "DELETE", "subtask", "3-9"),
    ("list milestones in project 2", "QUERY", "milestone", None),
    ("execute task 12", "UPDATE", "task", 12),
])
def test_parser_reads_the_documented_examples(text: str, operation: str, entity: str,
                                              identifier: Any) -> None:
    parsed = RuleBasedNLProcessor().process(text)
    context = parsed.operation_context
    assert parsed.intent_type == "COMMAND" and not parsed.metadata["validation_failed"]
    assert context is not None and context.entity_type is not None
    assert (context.operation.name, context.entity_type.value, context.identifier) == (
        operation, entity, identifier)
    assert parsed.confidence > 0.8 and set(parsed.metadata["stages"]) == {"intent", "operation", "entity", "params"}
