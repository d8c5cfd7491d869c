"""The panels of `obra-monitor tui`: sessions, alert banners, rolling latency stats.

Pilot drives the app as a user would and the tests read the screen; figures are
checked against `stats.py` on the same events. Waiting is always a bounded loop
over `pilot.pause()` (helpers.until), never a fixed sleep.
"""

from __future__ import annotations

from array import array
from itertools import compress
from pathlib import Path

import pytest

from obra_monitor import events as ev
from tests.helpers_log import SESSION_A, SESSION_B, event, write_log
from tui.index import ALL_KINDS, CODES, EventIndex, FIND_SESSIONS

U, N, X, E = (ev.EventType.USER_INPUT, ev.EventType.NL_RESULT, ev.EventType.EXECUTION_RESULT,
              ev.EventType.ERROR)


@pytest.fixture
def log(tmp_path: Path) -> Path:
    return tmp_path / "production.jsonl"


# -- the index: rows of sessions ---------------------------------------------------------------


def test_session_rows_found_by_bytes_find_equal_a_plain_scan() -> None:
    index = EventIndex()
    names = [f"s{n}" for n in range(2000)]
    numbers = [(n * 7919) % 2000 for n in range(5000)]
    numbers[100:102] = [1280, 256]  # bytes 00 05 00 00 | 00 01 00 00: "5" straddles two rows
    for row, number in enumerate(numbers):
        index.append(0, row * 10, 9, row % 6, index.session_id(names[number]))
    column = index.sessions
    for wanted in ({5}, {5, 1280, 7}, set(range(0, 2000, 3))):
        numbers_wanted = frozenset(index.session_number(f"s{n}") for n in wanted)
        expected = [row for row in range(len(index)) if column[row] in numbers_wanted]
        assert list(index.session_rows(numbers_wanted)) == expected
        assert list(index.session_rows(numbers_wanted, 3000)) == [r for r in expected if r >= 3000]
        kinds = frozenset({CODES["error"], CODES["user_input"]})
        assert list(index.positions(kinds, 0, numbers_wanted)) == [
            r for r in expected if index.kinds[r] in kinds]
        assert list(index.positions(ALL_KINDS, 10, numbers_wanted)) == [r for r in expected if r >= 10]
    assert len({5}) <= FIND_SESSIONS < len(range(0, 2000, 3))  # both paths were taken
    assert list(index.session_rows(frozenset())) == [] and index.session_number("nope") is None


def test_event_log_listeners_see_the_backlog_then_live_batches(log: Path) -> None:
    from tests.helpers_log import append
    from tui.log import EventLog

    write_log(log, [event(U, input="one"), b"not json", event(U, input="two")])
    seen: list[tuple[int, list, bool]] = []
    event_log = EventLog(log, tail=10)
    event_log.listeners.append(lambda first, events, live: seen.append((first, events, live)))
    event_log.open()
    append(log, [event(E, error="boom")])
    event_log.poll()
    event_log.close()
    assert [(first, live) for first, _events, live in seen] == [(0, False), (3, True)]
    assert [e and e.get(ev.INPUT) for e in seen[0][1]] == ["one", None, "two"]
    assert seen[1][1][0][ev.ERROR] == "boom"


# -- the command line ---------------------------------------------------------------------------


def test_tui_flags_reach_the_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from obra_monitor.cli import main
    from tui.app import MonitorApp

    config = tmp_path / "app.yaml"
    config.write_text("monitoring:\n  alerts:\n    nl_p95_ms: 800\n    window_minutes: 2\n")
    seen: list[MonitorApp] = []
    monkeypatch.setattr(MonitorApp, "run", lambda self: seen.append(self))
    monkeypatch.delenv("OBRA_MONITOR_CONFIG", raising=False)
    assert main(["tui", str(tmp_path / "x.jsonl"), "--config", str(config)]) == 0
    assert main(["tui", str(tmp_path / "x.jsonl"), "--config", str(config), "--window", "90s", "--bell",
                 "--alert-history"]) == 0
    assert main(["tui", str(tmp_path / "x.jsonl"), "--window", "1h"]) == 0
    first, second, third = seen
    assert first.panels.rules.nl_p95_ms == 800 and first.panels.span == 120 and not first.panels.alerts.alert_history
    assert second.panels.span == 90 and second.panels.rules.bell and second.panels.alerts.alert_history
    assert third.panels.span == 3600 and third.panels.rules.nl_p95_ms == 5000
    with pytest.raises(SystemExit) as exit_:
        main(["tui", "--window", "soon"])
    assert exit_.value.code == 2
