"""Snapshots of the TUI on fixed data (pytest-textual-snapshot).

The data has fixed timestamps and session ids, the terminal size is fixed, and
the status bar shows the log's file name only, so a snapshot depends on nothing
but the code. Update with `pytest tests/tui/test_snapshots.py --snapshot-update`
after checking the new SVGs by eye.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from obra_monitor import events as ev
from tests.helpers_log import SESSION_B, event, fixture_events, write_log
from tests.tui.helpers import conversation, loaded, make_app

TERMINAL = (130, 30)


@pytest.fixture
def log(tmp_path: Path) -> Path:
    path = tmp_path / "production.jsonl"
    nasty = event(ev.EventType.USER_INPUT, SESSION_B, 9, "2026-12-04T19:58:00.000000Z",
                  input="[bold red]not styled[/] \x1b[2J still literal")
    return write_log(path, conversation(6) + fixture_events() + [b"a torn line {\"type\":", nasty])


def test_main_screen(snap_compare, log: Path) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(make_app(log, tail=8), terminal_size=TERMINAL, run_before=loaded)


def test_paused_filtered_screen(snap_compare, log: Path) -> None:  # type: ignore[no-untyped-def]
    async def run_before(pilot) -> None:  # type: ignore[no-untyped-def]
        await loaded(pilot)
        await pilot.press("2", "5", "6", "up", "up", "up")

    assert snap_compare(make_app(log), terminal_size=TERMINAL, run_before=run_before)


def test_detail_screen(snap_compare, log: Path) -> None:  # type: ignore[no-untyped-def]
    async def run_before(pilot) -> None:  # type: ignore[no-untyped-def]
        await loaded(pilot)
        for _ in range(12):
            await pilot.press("up")
        await pilot.press("enter")
        await pilot.pause()

    assert snap_compare(make_app(log), terminal_size=TERMINAL, run_before=run_before)


def test_help_screen(snap_compare, log: Path) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(make_app(log), terminal_size=TERMINAL, press=["question_mark"])
