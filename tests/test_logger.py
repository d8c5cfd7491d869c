"""ProductionLogger as Obra calls it, checked by reading the log back."""

from __future__ import annotations

import asyncio
import math
import threading
import uuid
from datetime import datetime, timezone
from enum import Enum
from pathlib import Path
from typing import Any

import pytest

import obra_monitor
from obra_monitor import (
    ProductionLogger,
    generate_session_id,
    get_production_logger,
    initialize_production_logger,
)
from obra_monitor import logger as logger_module
from obra_monitor.errors import ConfigError
from obra_monitor.example_repl import EntityType, OperationContext, OperationType, ParsedIntent
from tests.helpers_log import read_events

SESSION = "3f2b8c1e-8d4a-4b7e-9c11-2a6f1e0d9b77"


DELETE_ALL = ParsedIntent(
    intent_type="COMMAND",
    operation_context=OperationContext(OperationType.DELETE, EntityType.PROJECT, "__ALL__"),
    original_message="delete all projects",
    confidence=0.91,
    metadata={"intent_confidence": 0.94, "operation_confidence": 1.0,
              "entity_confidence": 0.9, "params_confidence": 0.8},
)


class ValidationException(Exception):
    pass


# -- helpers --------------------------------------------------------------------------------

def make_logger(tmp_path: Path, **section: Any) -> ProductionLogger:
    section.setdefault("path", str(tmp_path / "logs" / "production.jsonl"))
    return ProductionLogger(section)


# -- the Obra API -----------------------------------------------------------------------------

def test_every_log_method_writes_the_seed_schema(tmp_path: Path) -> None:
    logger = make_logger(tmp_path, events={"orchestrator_prompts": True, "implementer_responses": True})
    logger.log_user_input(SESSION, "delete all projects")
    logger.log_nl_result(SESSION, DELETE_ALL, 1234)
    logger.log_orch_prompt(SESSION, 7, "claude-code", 1500, 5000)
    logger.log_impl_response(SESSION, 7, True, 8500, 2300)
    logger.log_execution_result(
        SESSION, {"success": True, "message": "Deleted 15 projects", "bulk_results": {"projects": list(range(15))}},
        9800,
    )
    logger.log_error(SESSION, "validation", ValidationException("Project ID must be positive integer"),
                     context={"project_id": -1})
    logger.close()

    events = read_events(logger.log_path)
    assert [e["type"] for e in events] == [
        "user_input", "nl_result", "orch_prompt", "impl_response", "execution_result", "error",
    ]
    for event in events:
        assert event["session"] == SESSION
        assert event["turn"] == 1
        assert event["ts"].endswith("Z")
        assert datetime.fromisoformat(event["ts"]).tzinfo is not None
    user, nl, orch, impl, result, error = events
    assert user["input"] == "delete all projects"
    assert {k: nl[k] for k in ("intent", "confidence", "operation", "entity", "identifier",
                               "validation", "duration_ms")} == {
        "intent": "COMMAND", "confidence": 0.91, "operation": "DELETE", "entity": "project",
        "identifier": "__ALL__", "validation": "passed", "duration_ms": 1234.0,
    }
    assert nl["stages"] == {"intent": 0.94, "operation": 1.0, "entity": 0.9, "params": 0.8}
    assert orch == {**orch, "task_id": 7, "target": "claude-code", "prompt_length": 1500,
                    "context_tokens": 5000}
    assert impl == {**impl, "task_id": 7, "success": True, "duration_ms": 8500.0, "output_length": 2300}
    assert result == {**result, "success": True, "message": "Deleted 15 projects",
                      "entities_affected": {"projects": 15}, "total_duration_ms": 9800.0}
    assert error == {**error, "stage": "validation", "error_type": "ValidationException",
                     "error": "Project ID must be positive integer", "recoverable": True,
                     "context": {"project_id": -1}}
    timestamps = [datetime.fromisoformat(e["ts"]) for e in events]
    assert timestamps == sorted(timestamps)


def test_turns_count_per_session(tmp_path: Path) -> None:
    logger = make_logger(tmp_path)
    other = generate_session_id()
    for text in ("list projects", "create task", "show task 3"):
        logger.log_user_input(SESSION, text)
        logger.log_nl_result(SESSION, {"intent": "command", "confidence": 0.8}, 10)
    logger.log_user_input(other, "hello")
    logger.close()
    turns = [(e["session"], e["turn"], e["type"]) for e in read_events(logger.log_path)]
    assert turns == [
        (SESSION, 1, "user_input"), (SESSION, 1, "nl_result"),
        (SESSION, 2, "user_input"), (SESSION, 2, "nl_result"),
        (SESSION, 3, "user_input"), (SESSION, 3, "nl_result"),
        (other, 1, "user_input"),
    ]


def test_parsed_intent_shapes(tmp_path: Path) -> None:
    logger = make_logger(tmp_path)
    question = ParsedIntent("QUESTION", None, "what is obra?", 0.77)
    failed = ParsedIntent("COMMAND", OperationContext(OperationType.UPDATE, EntityType.TASK, 42),
                          "update task 42", 0.55, metadata={"validation_failed": True,
                                                            "stage_confidences": {"intent": 0.9}})
    as_dict = {"intent": "command", "confidence": 0.6, "operation": "query", "entity": "TASK",
               "identifier": None, "validation": "failed", "stages": {"params": 0.5}}
    for intent in (question, failed, as_dict):
        logger.log_nl_result(SESSION, intent, 5)
    logger.close()
    q, f, d = read_events(logger.log_path)
    assert (q["intent"], q["operation"], q["entity"], q["identifier"], q["validation"]) == (
        "QUESTION", None, None, None, "passed")
    assert "stages" not in q and "turn" not in q  # no user_input logged first: no turn to claim
    assert (f["operation"], f["entity"], f["identifier"], f["validation"], f["stages"]) == (
        "UPDATE", "task", 42, "failed", {"intent": 0.9})
    assert (d["intent"], d["operation"], d["entity"], d["validation"], d["stages"]) == (
        "COMMAND", "QUERY", "task", "failed", {"params": 0.5})


def test_execution_result_shapes(tmp_path: Path) -> None:
    logger = make_logger(tmp_path)
    logger.log_execution_result(SESSION, {"success": False, "message": "Project 9 not found"}, 12)
    logger.log_execution_result(SESSION, {"success": True, "message": "Created task",
                                          "data": {"task_id": 81, "title": "x", "nested": {"a": 1}}}, 3)
    logger.log_execution_result(SESSION, {"success": True, "entities_affected": {"tasks": 2}}, 1)
    logger.close()
    failed, created, explicit = read_events(logger.log_path)
    assert (failed["success"], failed["message"], failed["entities_affected"]) == (
        False, "Project 9 not found", None)
    assert created["entities_affected"] == {"task_id": 81, "title": "x"}
    assert explicit["entities_affected"] == {"tasks": 2} and explicit["message"] is None


def test_event_toggles(tmp_path: Path) -> None:
    logger = make_logger(tmp_path, events={"user_input": False})
    logger.log_user_input(SESSION, "not logged")
    logger.log_nl_result(SESSION, DELETE_ALL, 1)
    logger.log_orch_prompt(SESSION, 1, "claude-code", 1, 1)  # off by default
    logger.log_impl_response(SESSION, 1, True, 1, 1)  # off by default
    logger.close()
    assert [e["type"] for e in read_events(logger.log_path)] == ["nl_result"]
    assert logger.stats.events_disabled == 3
    assert logger.stats.events_written == 1


def test_disabled_logger_writes_nothing(tmp_path: Path) -> None:
    logger = make_logger(tmp_path, enabled=False)
    logger.log_user_input(SESSION, "x")
    with logger.turn(SESSION, "y") as turn:
        turn.nl_result(DELETE_ALL)
    logger.close()
    assert not logger.log_path.parent.exists()


def test_invalid_section_fails_at_construction(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="rotation.max_files"):
        ProductionLogger({"rotation": {"max_files": 0}})


def test_redaction_is_applied_to_free_text(tmp_path: Path) -> None:
    logger = make_logger(tmp_path)
    key = "sk-proj-" + "A1b2C3d4" * 5
    logger.log_user_input(SESSION, f"email bob@example.com the key {key}")
    logger.log_user_input(SESSION, "keep bob@example.com as typed", redact=False)
    logger.log_execution_result(SESSION, {"success": False, "message": "mail to bob@example.com bounced"}, 1)
    logger.log_error(SESSION, "execution", RuntimeError(f"auth failed for {key}"),
                     context={"user": "bob@example.com", "attempts": 3, "hosts": ["10.1.2.3"]})
    logger.close()
    first, second, result, error = read_events(logger.log_path)
    assert first["input"] == "email [EMAIL] the key [API_KEY]"
    assert second["input"] == "keep bob@example.com as typed"
    assert result["message"] == "mail to [EMAIL] bounced"
    assert error["error"] == "auth failed for [API_KEY]"
    assert error["context"] == {"user": "[EMAIL]", "attempts": 3, "hosts": ["[IP]"]}
    assert key not in logger.log_path.read_text()


def test_redaction_settings_and_custom_patterns(tmp_path: Path) -> None:
    logger = make_logger(tmp_path, privacy={"redact_pii": False, "redact_secrets": True,
                                            "redact_patterns": [r"\bACME-\d{4}\b"]})
    logger.log_user_input(SESSION, "bob@example.com ACME-1234 password=hunter2")
    logger.close()
    assert read_events(logger.log_path)[0]["input"] == "bob@example.com [REDACTED] password=[SECRET]"


# -- the turn API -----------------------------------------------------------------------------

def test_turn_logs_a_whole_turn_with_measured_durations(tmp_path: Path) -> None:
    logger = make_logger(tmp_path)
    with logger.turn(SESSION, "delete all projects") as turn:
        turn.nl_result(DELETE_ALL)
        turn.execution_result({"success": True, "message": "Deleted 15 projects"})
    with logger.turn(SESSION, "/help") as second:
        pass
    logger.close()
    events = read_events(logger.log_path)
    assert [(e["type"], e["turn"]) for e in events] == [
        ("user_input", 1), ("nl_result", 1), ("execution_result", 1), ("user_input", 2)]
    _, nl, result, _ = events
    assert turn.number == 1 and second.number == 2
    assert 0 <= nl["duration_ms"] <= result["total_duration_ms"]
    assert (result["operation"], result["entity"]) == ("DELETE", "project")


def test_exception_in_a_turn_is_logged_with_its_stage_and_reraised(tmp_path: Path) -> None:
    logger = make_logger(tmp_path)
    with pytest.raises(ValidationException):
        with logger.turn(SESSION, "delete project -1") as turn:
            turn.nl_result(DELETE_ALL)
            raise ValidationException("Project ID must be positive integer")
    with pytest.raises(KeyError):
        with logger.turn(SESSION, "x") as turn:
            turn.stage = "validation"
            raise KeyError("missing")
    logger.close()
    errors = [e for e in read_events(logger.log_path) if e["type"] == "error"]
    assert [(e["turn"], e["stage"], e["error_type"], e["recoverable"]) for e in errors] == [
        (1, "execution", "ValidationException", False), (2, "validation", "KeyError", False)]
    assert errors[0]["error"] == "Project ID must be positive integer"


def test_turn_error_method_and_nl_stage(tmp_path: Path) -> None:
    logger = make_logger(tmp_path)
    with logger.turn(SESSION, "gibberish") as turn:
        turn.error(ValueError("could not classify intent"), context={"stage_confidence": 0.1})
    logger.close()
    error = read_events(logger.log_path)[1]
    assert (error["stage"], error["recoverable"], error["context"]) == (
        "nl_processing", True, {"stage_confidence": 0.1})


def test_turn_works_with_async_with(tmp_path: Path) -> None:
    logger = make_logger(tmp_path)

    async def repl_turn() -> None:
        async with logger.turn(SESSION, "list tasks") as turn:
            await asyncio.sleep(0)
            turn.nl_result({"intent": "COMMAND", "confidence": 0.9, "operation": "QUERY", "entity": "task"})
            turn.execution_result({"success": True, "message": "3 tasks"})

    asyncio.run(repl_turn())
    logger.close()
    assert [e["type"] for e in read_events(logger.log_path)] == [
        "user_input", "nl_result", "execution_result"]


# -- async mode -------------------------------------------------------------------------------

def test_async_mode_writes_everything_by_close(tmp_path: Path) -> None:
    logger = make_logger(tmp_path, async_logging=True, buffer_size=4096)
    for i in range(5000):
        logger.log_user_input(SESSION, f"command {i}")
    logger.close()
    events = read_events(logger.log_path)
    assert [e["input"] for e in events] == [f"command {i}" for i in range(5000)]
    assert logger.stats.events_written == 5000 and logger.stats.events_dropped == 0


def test_async_mode_full_queue_makes_callers_write_themselves(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(logger_module, "_ASYNC_QUEUE_EVENTS", 1)
    logger = make_logger(tmp_path, async_logging=True)
    gate = threading.Event()
    original_write = logger._writer.write

    def slow_background_write(data: bytes, lines: int = 1) -> bool:
        if threading.current_thread().name == "obra-monitor-writer":
            gate.wait(10)
        return original_write(data, lines)

    monkeypatch.setattr(logger._writer, "write", slow_background_write)
    for i in range(50):
        logger.log_user_input(SESSION, f"command {i}")
    gate.set()
    logger.close()
    assert sorted(int(e["input"].split()[1]) for e in read_events(logger.log_path)) == list(range(50))


# -- bad input never reaches the host --------------------------------------------------------

class Colour(Enum):
    RED = "red"


class Unprintable:
    def __str__(self) -> str:
        raise RuntimeError("no")


def test_awkward_values_are_written_as_valid_json(tmp_path: Path) -> None:
    logger = make_logger(tmp_path)
    context = {
        "when": datetime(2026, 12, 4, 12, 0, tzinfo=timezone.utc),
        "colour": Colour.RED,
        "tags": {"b", "a"},
        "obj": object(),
        "nan": math.nan,
        "inf": math.inf,
        "big": 2**80,
        "bytes": b"\xff\xfeok",
        "path": Path("/tmp/x"),
        3: "int key",
        "uuid": uuid.UUID(SESSION),
        "lone": "bad \ud800 surrogate",
    }
    logger.log_error(SESSION, "execution", RuntimeError("ctl \x1b[2J\x00\x07 chars"), context=context)
    logger.log_user_input(SESSION, "pair \ud83d\ude00 and lone \udfff")
    logger.close()
    raw = logger.log_path.read_bytes()
    raw.decode("utf-8")  # strict: the file is valid UTF-8
    error, user = read_events(logger.log_path)
    ctx = error["context"]
    assert ctx["when"].startswith("2026-12-04T12:00:00")
    assert ctx["colour"] == "red" and sorted(ctx["tags"]) == ["a", "b"]
    assert ctx["obj"].startswith("<object object") and ctx["nan"] is None and ctx["inf"] is None
    assert ctx["big"] == str(2**80) and ctx["path"] == "/tmp/x" and ctx["3"] == "int key"
    assert ctx["uuid"] == SESSION and ctx["lone"] == "bad \ufffd surrogate"
    assert error["error"] == "ctl \x1b[2J\x00\x07 chars"
    assert user["input"] == "pair 😀 and lone \ufffd"


def test_long_fields_are_truncated_with_a_marker(tmp_path: Path) -> None:
    logger = make_logger(tmp_path, max_field_chars=100)
    logger.log_user_input(SESSION, "x" * 250)
    logger.close()
    assert read_events(logger.log_path)[0]["input"] == "x" * 100 + "…[truncated 150 chars]"
    assert logger.stats.fields_truncated == 1


def test_nothing_raises_into_the_host(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    logger = make_logger(tmp_path)
    logger.log_user_input(SESSION, Unprintable())  # type: ignore[arg-type]
    logger.log_nl_result(SESSION, object(), "slow")  # type: ignore[arg-type]
    logger.log_execution_result(SESSION, None, None)  # type: ignore[arg-type]
    logger.log_error(SESSION, "x", Unprintable())  # type: ignore[arg-type]
    logger.close()
    logger.log_user_input(SESSION, "after close")
    assert logger.stats.internal_errors == 2  # the two unprintable values
    assert len([r for r in caplog.records if "could not be logged" in r.getMessage()]) == 1
    nl, result = read_events(logger.log_path)
    assert nl["duration_ms"] is None and result["success"] is False


def test_full_disk_counts_dropped_events_and_resumes(tmp_path: Path) -> None:
    logger = make_logger(tmp_path)
    logger._writer.path_check_interval = 0
    logger.log_user_input(SESSION, "one")
    logger.log_path.unlink()
    logger.log_path.symlink_to("/dev/full")
    logger.log_user_input(SESSION, "two")
    assert logger.stats.events_dropped == 1
    logger.log_path.unlink()
    logger.log_user_input(SESSION, "three")
    logger.close()
    assert [e["input"] for e in read_events(logger.log_path)] == ["three"]
    assert logger.stats.events_written == 2 and logger.stats.events_dropped == 1


# -- construction and the process-wide logger -------------------------------------------------

def test_session_ids_are_uuid4() -> None:
    ids = {generate_session_id() for _ in range(100)}
    assert len(ids) == 100
    assert all(uuid.UUID(i).version == 4 for i in ids)


def test_global_logger_from_app_config_dict_file_and_config_object(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    first = initialize_production_logger({"llm": {}, "monitoring": {"production_logging": {"path": str(path)}}})
    assert get_production_logger() is first and first.log_path == path

    config_file = tmp_path / "app.yaml"
    config_file.write_text(f"monitoring:\n  production_logging:\n    path: {tmp_path / 'b.jsonl'}\n")
    second = initialize_production_logger(config_file)
    assert get_production_logger() is second and second.log_path == tmp_path / "b.jsonl"
    first.log_user_input(SESSION, "closed when replaced")
    assert not path.exists()

    class ObraConfig:
        def get(self, key: str, default: Any = None) -> Any:
            return {"monitoring.production_logging": {"path": str(tmp_path / "c.jsonl")}}.get(key, default)

    third = initialize_production_logger(ObraConfig())
    assert third.log_path == tmp_path / "c.jsonl"
    third.close()


def test_from_yaml_and_package_exports(tmp_path: Path) -> None:
    config_file = tmp_path / "app.yaml"
    config_file.write_text(f"monitoring:\n  production_logging:\n    path: {tmp_path / 'x.jsonl'}\n")
    with ProductionLogger.from_yaml(config_file) as logger:
        logger.log_user_input(SESSION, "hi")
    assert read_events(tmp_path / "x.jsonl")[0]["input"] == "hi"
    for name in ("ProductionLogger", "generate_session_id", "initialize_production_logger",
                 "get_production_logger", "Redactor", "EventType"):
        assert hasattr(obra_monitor, name)


def test_rotation_through_the_logger_loses_nothing(tmp_path: Path) -> None:
    logger = make_logger(tmp_path, rotation={"max_file_size_mb": 0.001, "max_files": 1000})
    for i in range(300):
        logger.log_user_input(SESSION, f"command number {i}")
    logger.close()
    assert logger.stats.rotations > 10
    assert [e["turn"] for e in read_events(logger.log_path)] == list(range(1, 301))


def test_timestamps_are_fixed_width_even_on_a_whole_second(tmp_path: Path) -> None:
    moments = iter([datetime(2026, 12, 4, 12, 0, 5, tzinfo=timezone.utc),
                    datetime(2026, 12, 4, 12, 0, 5, 7, tzinfo=timezone.utc)])
    logger = ProductionLogger({"path": str(tmp_path / "p.jsonl")}, clock=lambda: next(moments))
    logger.log_user_input(SESSION, "a")
    logger.log_user_input(SESSION, "b")
    logger.close()
    assert [e["ts"] for e in read_events(logger.log_path)] == [
        "2026-12-04T12:00:05.000000Z", "2026-12-04T12:00:05.000007Z"]


def test_a_key_straddling_the_field_cap_is_dropped_whole_not_half_logged(tmp_path: Path) -> None:
    logger = make_logger(tmp_path)
    text = "x" * 8180 + " AKIAIOSFODNN7EXAMPLE more"
    logger.log_user_input(SESSION, text)
    logger.close()
    logged = read_events(logger.log_path)[0]["input"]
    assert logged == "x" * 8180 + " " + f"…[truncated {len(text) - 8181} chars]"
    assert "AKIA" not in logger.log_path.read_text()
    assert logger.stats.fields_truncated == 1


def test_context_values_under_secret_keys_are_redacted(tmp_path: Path) -> None:
    logger = make_logger(tmp_path)
    logger.log_error(SESSION, "execution", RuntimeError("login failed"),
                     context={"user": "bob", "password": "hunter2", "attempt": 2})
    logger.close()
    assert read_events(logger.log_path)[0]["context"] == {"user": "bob", "password": "[SECRET]", "attempt": 2}
    assert "hunter2" not in logger.log_path.read_text()
