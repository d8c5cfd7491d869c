"""`obra-monitor demo`: the simulated workload, checked by reading the log it writes."""

from __future__ import annotations

import gc
import json
import re
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pexpect
import pytest

from obra_monitor.cli import main
from obra_monitor.logger import ProductionLogger
from obra_monitor.simulate import Simulation, demo_settings
from tests.helpers_log import read_events

SESSION = "3f2b8c1e-8d4a-4b7e-9c11-2a6f1e0d9b77"
BIN = Path(sys.executable).with_name("obra-monitor")
COMMAND = [str(BIN)] if BIN.exists() else [sys.executable, "-m", "obra_monitor"]
UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


# -- the logger's clock hook, which backfilled history relies on -----------------------------

def test_logger_stamps_events_with_the_clock_it_is_given(tmp_path: Path) -> None:
    start = datetime(2026, 11, 4, 9, 30, tzinfo=timezone.utc)
    ticks = iter(start + timedelta(seconds=n) for n in range(10))
    logger = ProductionLogger({"path": str(tmp_path / "p.jsonl")}, clock=lambda: next(ticks))
    with logger.turn(SESSION, "show tasks 1-15") as turn:
        turn.nl_result({"intent": "COMMAND", "confidence": 0.9, "operation": "QUERY", "entity": "task"})
        turn.execution_result({"success": True, "message": "Found 15 tasks"})
    logger.close()
    stamps = [event["ts"] for event in read_events(tmp_path / "p.jsonl")]
    assert stamps == ["2026-11-04T09:30:00.000000Z", "2026-11-04T09:30:01.000000Z", "2026-11-04T09:30:02.000000Z"]


def test_logger_clock_defaults_to_now(tmp_path: Path) -> None:
    before = datetime.now(timezone.utc)
    with ProductionLogger({"path": str(tmp_path / "p.jsonl")}) as logger:
        logger.log_user_input(SESSION, "hi")
    stamp = datetime.fromisoformat(read_events(tmp_path / "p.jsonl")[0]["ts"])
    assert before <= stamp <= datetime.now(timezone.utc)


# -- the workload, through the library API -----------------------------------------------------

END = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)
EMAIL_ADDRESS = re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+")
OPERATIONS = {"CREATE", "UPDATE", "DELETE", "QUERY"}
ENTITIES = {"project", "epic", "story", "task", "subtask", "milestone"}


def backfill(path: Path, seed: int, sessions: int) -> Simulation:
    simulation = Simulation(seed=seed, sessions=sessions, end=END)
    logger = ProductionLogger(demo_settings(None, path, None), clock=simulation.clock)
    try:
        assert simulation.run_backfill(logger) == "finished"
    finally:
        logger.close()
    return simulation


@pytest.fixture(scope="module")
def workload(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    path = tmp_path_factory.mktemp("workload") / "demo.jsonl"
    backfill(path, seed=11, sessions=600)
    return read_events(path)


def test_same_seed_same_file_other_seed_other_file(tmp_path: Path) -> None:
    backfill(tmp_path / "a.jsonl", seed=5, sessions=80)
    backfill(tmp_path / "b.jsonl", seed=5, sessions=80)
    backfill(tmp_path / "c.jsonl", seed=6, sessions=80)
    first = (tmp_path / "a.jsonl").read_bytes()
    assert first == (tmp_path / "b.jsonl").read_bytes()
    assert first != (tmp_path / "c.jsonl").read_bytes()


def test_every_event_type_operation_entity_and_stage_appears(workload: list[dict[str, Any]]) -> None:
    by_type: dict[str, list[dict[str, Any]]] = {}
    for event in workload:
        by_type.setdefault(event["type"], []).append(event)
    assert set(by_type) == {"user_input", "nl_result", "execution_result", "error", "orch_prompt",
                            "impl_response"}
    parses = by_type["nl_result"]
    assert {e["operation"] for e in parses} >= OPERATIONS
    assert {e["entity"] for e in parses} >= ENTITIES
    assert {e["intent"] for e in parses} == {"COMMAND", "QUESTION"}
    assert {e["validation"] for e in parses} == {"passed", "failed"}
    assert all(0 <= e["confidence"] <= 1 for e in parses)
    commands = [e for e in parses if e["operation"]]
    assert all(set(e["stages"]) == {"intent", "operation", "entity", "params"} for e in commands)
    assert any(e["identifier"] == "__ALL__" for e in parses)
    assert any(isinstance(e["identifier"], str) and re.fullmatch(r"\d+-\d+", e["identifier"]) for e in parses)

    errors = by_type["error"]
    assert {e["stage"] for e in errors} == {"nl_processing", "validation", "execution", "implementer"}
    assert {e["recoverable"] for e in errors} == {True, False}
    assert {"ValidationException", "EntityNotFoundError", "LLMTimeoutError", "ParseError"} <= {
        e["error_type"] for e in errors}
    assert any(re.search(r"\d", e["error"]) for e in errors if e["error_type"] == "EntityNotFoundError")

    results = by_type["execution_result"]
    assert {e["success"] for e in results} == {True, False}
    assert {e["operation"] for e in results if e["operation"]} == OPERATIONS

    inputs = [e["input"] for e in by_type["user_input"]]
    assert {"/help", "/status", "/history"} <= set(inputs)
    assert {"exit", "quit"} & set(inputs)
    assert any("delete all projects" in text for text in inputs)
    for placeholder in ("[EMAIL]", "[API_KEY]"):
        assert any(placeholder in text for text in inputs)
    assert not [e for e in workload if EMAIL_ADDRESS.search(json.dumps(e))]
    assert not any("sk-proj-" in text or "ghp_" in text or "AKIA" in text for text in inputs)

    prompts, responses = by_type["orch_prompt"], by_type["impl_response"]
    assert len(prompts) == len(responses)
    assert all(p["prompt_length"] > 0 and p["context_tokens"] > 0 for p in prompts)
    assert {r["success"] for r in responses} == {True, False}


def test_turns_sessions_and_time_look_like_real_users(workload: list[dict[str, Any]]) -> None:
    stamps = [datetime.fromisoformat(e["ts"]) for e in workload]
    assert stamps == sorted(stamps)
    assert END - timedelta(days=30) <= stamps[0] and stamps[-1] <= END
    assert stamps[-1] - stamps[0] > timedelta(days=25)
    assert any(END - stamp < timedelta(days=1) for stamp in stamps)

    turns: dict[str, list[int]] = {}
    for event in workload:
        assert UUID4.match(event["session"])
        numbers = turns.setdefault(event["session"], [])
        if event["type"] == "user_input":
            numbers.append(event["turn"])
        else:
            assert event["turn"] == numbers[-1]  # every event belongs to the turn it follows
    assert len(turns) == 600
    assert all(numbers == list(range(1, len(numbers) + 1)) for numbers in turns.values())

    # Sessions interleave: some session's events are split by another session's.
    assert any(a["session"] != b["session"] and b["type"] != "user_input"
               for a, b in zip(workload, workload[1:]))

    nl = sorted(e["duration_ms"] for e in workload if e["type"] == "nl_result")
    assert 300 <= nl[len(nl) // 2] <= 2000 and nl[-1] > 2000
    implementer = [e["duration_ms"] for e in workload if e["type"] == "impl_response"]
    assert max(implementer) > 20_000
    for event in workload:
        if event["type"] == "execution_result":
            assert event["total_duration_ms"] > 0


def test_stopping_mid_run_logs_no_spurious_errors(tmp_path: Path) -> None:
    path = tmp_path / "demo.jsonl"
    simulation = Simulation(seed=3, sessions=500, end=END)
    logger = ProductionLogger(demo_settings(None, path, None), clock=simulation.clock)
    simulation.stop_requested = True
    assert simulation.run_backfill(logger) == "interrupted"
    gc.collect()
    logger.close()
    events = read_events(path)
    assert 0 < len(events) < 2000
    assert {e["error_type"] for e in events if e["type"] == "error"}.isdisjoint(
        {"GeneratorExit", "KeyboardInterrupt"})


# -- `obra-monitor demo` as a user runs it -------------------------------------------------------

def demo(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*COMMAND, "demo", *args], capture_output=True, text=True, timeout=timeout)


def test_demo_backfill_is_deterministic_by_seed(tmp_path: Path) -> None:
    outputs = []
    for name in ("one.jsonl", "two.jsonl"):
        done = demo("--path", str(tmp_path / name), "--rate", "0", "--sessions", "60", "--seed", "42")
        assert done.returncode == 0, done.stderr
        assert re.fullmatch(r"demo: [\d,]+ events from 60 sessions, backfilled over 30 days, to \S+ "
                            r"in [\d.]+ s \([\d,]+ events/s\), seed 42\n", done.stdout)
        outputs.append([{k: v for k, v in e.items() if k != "ts"} for e in read_events(tmp_path / name)])
    assert outputs[0] == outputs[1] and len(outputs[0]) > 300


def test_demo_live_writes_about_the_rate_until_duration(tmp_path: Path) -> None:
    path = tmp_path / "live.jsonl"
    before = datetime.now(timezone.utc)
    done = demo("--path", str(path), "--rate", "200", "--duration", "1.5", "--sessions", "6", "--seed", "9")
    after = datetime.now(timezone.utc)
    assert done.returncode == 0, done.stderr
    assert "(--duration reached)" in done.stdout
    assert done.stderr.startswith("demo: 6 sessions, about 200 events/s, seed 9")
    events = read_events(path)
    assert len(events) >= 30  # ~300 expected; generous for a loaded machine
    stamps = [datetime.fromisoformat(e["ts"]) for e in events]
    assert all(before <= stamp <= after for stamp in stamps)
    assert len({e["session"] for e in events}) >= 2


def test_demo_live_stops_cleanly_on_ctrl_c(tmp_path: Path) -> None:
    path = tmp_path / "live.jsonl"
    child = pexpect.spawn(COMMAND[0], [*COMMAND[1:], "demo", "--path", str(path), "--rate", "50"],
                          encoding="utf-8", timeout=60)
    try:
        child.expect_exact("(Ctrl-C to stop)")
        child.sendintr()
        child.expect(r"demo: [\d,]+ events from \d+ sessions, live, .* \(stopped by Ctrl-C\)")
        child.expect(pexpect.EOF)
    finally:
        child.close()
    assert child.exitstatus == 0
    assert "Traceback" not in (child.before or "")


def test_demo_rotates_and_enables_implementer_events(tmp_path: Path) -> None:
    path = tmp_path / "demo.jsonl"
    config = tmp_path / "app.yaml"
    config.write_text("monitoring:\n  production_logging:\n    enabled: false\n"
                      "    privacy:\n      redact_pii: false\n")
    done = demo("--path", str(path), "--rate", "0", "--sessions", "150", "--seed", "1",
                "--config", str(config), "--max-file-mb", "0.05")
    assert done.returncode == 0, done.stderr
    rotated = list(tmp_path.glob("demo.jsonl.[0-9]*"))
    assert rotated and f"(+{len(rotated)} rotated)" in done.stdout
    events = read_events(path)
    assert {"orch_prompt", "impl_response"} <= {e["type"] for e in events}
    inputs = [e["input"] for e in events if e["type"] == "user_input"]
    assert any(EMAIL_ADDRESS.search(text) for text in inputs)  # the config turned PII redaction off
    assert not any("[EMAIL]" in text for text in inputs)


@pytest.mark.parametrize("args", [
    ("--rate", "-1"), ("--rate", "fast"), ("--sessions", "0"), ("--duration", "0"), ("--max-file-mb", "-2"),
])
def test_demo_usage_errors_exit_2(tmp_path: Path, args: tuple[str, ...]) -> None:
    done = demo("--path", str(tmp_path / "x.jsonl"), *args)
    assert done.returncode == 2 and "obra-monitor demo: error:" in done.stderr
    assert not (tmp_path / "x.jsonl").exists()


def test_demo_config_errors_exit_2(tmp_path: Path) -> None:
    config = tmp_path / "app.yaml"
    config.write_text("monitoring:\n  production_logging:\n    rotation:\n      max_files: zero\n")
    done = demo("--path", str(tmp_path / "x.jsonl"), "--config", str(config), "--rate", "0")
    assert done.returncode == 2
    assert done.stderr == (f"obra-monitor: {config}: monitoring.production_logging.rotation.max_files: "
                           "expected a whole number, got 'zero'\n")
    done = demo("--path", str(tmp_path), "--rate", "0")
    assert done.returncode == 2 and "is a directory" in done.stderr


def test_demo_that_cannot_write_says_so_and_exits_1(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    done = demo("--path", str(blocker / "demo.jsonl"), "--rate", "0", "--sessions", "5", "--seed", "1")
    assert done.returncode == 1
    assert re.search(r"demo: 0 events from 5 sessions, .* [\d,]+ DROPPED\n$", done.stdout)
    assert "cannot write" in done.stderr and "Traceback" not in done.stderr


def test_demo_runs_in_process_too(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "demo.jsonl"
    assert main(["demo", "--path", str(path), "--rate", "0", "--sessions", "20", "--seed", "3"]) == 0
    assert main(["demo", "--path", str(path), "--rate", "0", "--sessions", "20", "--seed", "3",
                 "--duration", "0.001"]) == 0
    out, err = capsys.readouterr()
    assert out.count("demo: ") == 2 and "appending backfilled events" in err
