"""`obra-monitor demo`: the simulated workload, checked by reading the log it writes."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from obra_monitor.logger import ProductionLogger

SESSION = "3f2b8c1e-8d4a-4b7e-9c11-2a6f1e0d9b77"


def read_events(path: Path) -> list[dict[str, Any]]:
    rotated = sorted(path.parent.glob(path.name + ".[0-9]*"), key=lambda p: -int(p.suffix[1:]))
    events = []
    for file in [*rotated, path]:
        if file.exists():
            events.extend(json.loads(raw) for raw in file.read_bytes().splitlines())
    return events


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
    assert stamps == ["2026-11-04T09:30:00Z", "2026-11-04T09:30:01Z", "2026-11-04T09:30:02Z"]


def test_logger_clock_defaults_to_now(tmp_path: Path) -> None:
    before = datetime.now(timezone.utc)
    with ProductionLogger({"path": str(tmp_path / "p.jsonl")}) as logger:
        logger.log_user_input(SESSION, "hi")
    stamp = datetime.fromisoformat(read_events(tmp_path / "p.jsonl")[0]["ts"])
    assert before <= stamp <= datetime.now(timezone.utc)
