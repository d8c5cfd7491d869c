"""`obra-monitor tui --demo`: a newcomer's first run shows a live REPL's traffic."""

from __future__ import annotations

import asyncio

import pytest

from obra_monitor.cli import main
from obra_monitor.simulate import background_demo
from tests.tui.helpers import SIZE, loaded, make_app, screen_lines, status_line, until


def test_demo_log_has_history_and_live_events_arrive_on_screen() -> None:
    async def scenario() -> None:
        with background_demo(rate=40, history_sessions=20) as path:
            app = make_app(path, watch_files=True)
            async with app.run_test(size=SIZE) as pilot:
                await loaded(pilot)
                at_start = len(app.event_log.index)
                assert at_start > 100, "30 days of history come first"
                await until(pilot, lambda: len(app.event_log.index) >= at_start + 20,
                            "live demo events to arrive", attempts=3000)
                assert "LIVE" in status_line(app)
                newest = screen_lines(app)[-1]
                assert any(kind in newest for kind in ("user_input", "nl_result", "execution_result",
                                                       "error", "orch_prompt", "impl_response"))
        assert not path.parent.exists(), "the temporary log goes when the demo ends"

    asyncio.run(scenario())


def test_demo_takes_no_path(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["tui", "--demo", "some.jsonl"]) == 2
    assert capsys.readouterr().err.strip() == "obra-monitor: --demo writes its own log: give no PATH with it"
