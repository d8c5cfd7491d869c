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


# -- Pilot: shared ---------------------------------------------------------------------------------

import asyncio  # noqa: E402
import dataclasses  # noqa: E402

from obra_monitor.config import AlertRules  # noqa: E402
from obra_monitor.stats import Selection, aggregate  # noqa: E402
from tests.helpers_log import SESSION_OLD, append, fixture_events  # noqa: E402
from tests.tui.helpers import conversation, loaded, make_app, screen_lines, status_line, until, widget_text  # noqa: E402
from tui.latency import short_ms  # noqa: E402

BIG = (160, 50)
QUIET = AlertRules(error_rate_per_minute=None, nl_p95_ms=None, validation_failure_percent=None)


def run(coroutine) -> None:  # type: ignore[no-untyped-def]
    asyncio.run(coroutine)


def panel_rows(app) -> list[list[str]]:  # type: ignore[no-untyped-def]
    """The session list's rows on screen, split into columns."""
    text = widget_text(app.panels.sessions_panel.list)
    return [line.replace("✓", " ").split() for line in text.splitlines() if line.strip()]


def banners(app) -> str:  # type: ignore[no-untyped-def]
    return widget_text(app.panels.alert_bar) if app.panels.alert_bar.display else ""


def latency(app) -> str:  # type: ignore[no-untyped-def]
    return widget_text(app.query_one("#latency-figures"))


def latency_row(app, label: str) -> list[str]:  # type: ignore[no-untyped-def]
    line = next(line for line in latency(app).splitlines() if line.split() and line.split()[0] == label)
    return line.split()[1:]


async def refreshed(pilot) -> None:  # type: ignore[no-untyped-def]
    """Poll the log, then let the panels catch up (as the 0.5 s status tick would)."""
    pilot.app.poll_now()
    pilot.app.panels.tick(force=True)
    await pilot.pause()


# -- the sessions panel ---------------------------------------------------------------------------


def test_sessions_panel_lists_every_session_with_its_counters(log: Path) -> None:
    write_log(log, fixture_events())

    async def scenario() -> None:
        app = make_app(log)
        async with app.run_test(size=BIG) as pilot:
            await loaded(pilot)
            rows = panel_rows(app)
            assert rows[0] == ["All", "sessions", "3"]
            # session, latest, first, turns, events, errors, success rate; most recent first
            assert rows[1] == ["3f2b8c1e", "19:57:04", "19:56:30", "3", "10", "2", "50%"]
            assert rows[2] == ["7c1d2e3f", "19:56:46", "19:56:35", "1", "6", "1", "0%"]
            assert rows[3] == ["0a0b0c0d", "19:00:00", "19:00:00", "2", "6", "0", "100%"]
            title = widget_text(app.query_one("#sessions-title"))
            assert "Sessions 3" in title and "latest activity" in title
            await pilot.press("s")  # focus the list
            assert app.panels.sessions_panel.list.has_focus
            await pilot.press("o")  # most errors first
            assert [row[0] for row in panel_rows(app)[1:]] == ["3f2b8c1e", "7c1d2e3f", "0a0b0c0d"]
            assert "most errors" in widget_text(app.query_one("#sessions-title"))
            await pilot.press("o")  # most turns first
            assert [row[0] for row in panel_rows(app)[1:]] == ["3f2b8c1e", "0a0b0c0d", "7c1d2e3f"]

    run(scenario())


def test_picking_sessions_filters_the_stream_through_the_index(log: Path) -> None:
    write_log(log, fixture_events() + conversation(3, session=SESSION_B, minute=30))

    async def scenario() -> None:
        app = make_app(log, tail=5)  # most rows come from the history
        async with app.run_test(size=BIG) as pilot:
            await loaded(pilot)
            stream, index = app.stream, app.event_log.index
            await pilot.press("s")
            rows = [row[0] for row in panel_rows(app)[1:]]
            await pilot.press(*["down"] * (rows.index("0a0b0c0d") + 1), "enter")
            assert stream.sessions == {SESSION_OLD}
            lines = screen_lines(app)
            assert len(lines) == 6 and all("0a0b0c0d" in line for line in lines)
            numbers = {index.session_number(SESSION_OLD)}
            assert list(stream.view) == [row for row in range(len(index)) if index.sessions[row] in numbers]
            assert "✓" in widget_text(app.panels.sessions_panel.list).splitlines()[rows.index("0a0b0c0d") + 1]
            # Space adds a second session; the type filter still applies on top.
            await pilot.press("home", *["down"] * (rows.index("7c1d2e3f") + 1), "space")
            assert stream.sessions == {SESSION_OLD, SESSION_B}
            await pilot.press("escape", "1")  # back to the stream, hide user_input
            lines = screen_lines(app)
            assert lines and all(("0a0b0c0d" in line or "7c1d2e3f" in line) and "user_input" not in line
                                 for line in lines)
            assert len(lines) == 4 + 5 + 6  # OLD: 4 more, B: 5 in the fixture and 2 per turn of its conversation
            await pilot.press("0", "s", "home", "enter")  # "All sessions" clears the filter
            assert stream.sessions is None and stream.view is None
            assert len(screen_lines(app)) == min(len(index), stream.size.height)
            # Events arriving later in a picked session show up; others do not.
            await pilot.press(*["down"] * (rows.index("0a0b0c0d") + 1), "enter", "escape")
            append(log, [event(U, SESSION_A, 9, "2026-12-04T20:00:00.000000Z", input="not shown"),
                         event(U, SESSION_OLD, None, "2026-12-04T20:00:01.000000Z", input="shown")])
            await refreshed(pilot)
            assert "> shown" in screen_lines(app)[-1]
            assert not any("not shown" in line for line in screen_lines(app))

    run(scenario())


def test_typing_an_id_prefix_narrows_the_list_and_enter_picks_them(log: Path) -> None:
    write_log(log, fixture_events())

    async def scenario() -> None:
        app = make_app(log)
        async with app.run_test(size=BIG) as pilot:
            await loaded(pilot)
            await pilot.press("s", "slash")
            await pilot.press("7", "C")  # ids are lower-case; the prefix is too
            assert [row[0] for row in panel_rows(app)[1:]] == ["7c1d2e3f"]
            assert "Sessions 1 of 3" in widget_text(app.query_one("#sessions-title"))
            await pilot.press("enter")
            assert app.stream.sessions == {SESSION_B}
            assert app.panels.sessions_panel.list.has_focus
            assert all("7c1d2e3f" in line for line in screen_lines(app))
            await pilot.press("slash", "backspace", "backspace", "z", "enter")
            assert app.stream.sessions == {SESSION_B}  # no match: nothing changes

    run(scenario())


def test_sessions_panel_updates_live_and_shows_the_picked_session_summary(log: Path) -> None:
    write_log(log, fixture_events())

    async def scenario() -> None:
        app = make_app(log)
        async with app.run_test(size=BIG) as pilot:
            await loaded(pilot)
            newcomer = "99999999-aaaa-4bbb-8ccc-dddddddddddd"
            append(log, conversation(2, session=newcomer, minute=50)[:4])
            await refreshed(pilot)
            rows = panel_rows(app)
            assert rows[1][0] == "99999999" and rows[1][3:] == ["2", "4", "0", "100%"]
            await pilot.press("s", "down", "down")  # 3f2b8c1e
            summary = widget_text(app.query_one("#sessions-summary")).splitlines()
            assert summary[0].strip() == "▸ 3f2b8c1e  3 turns · 50% ok · 2 err"
            assert summary[1].strip() == "19:56:30→19:57:04 · 10 events"
            await pilot.press("enter")
            stats = aggregate(log, selection=Selection(session=SESSION_A)).stats.summary()
            summary = widget_text(app.query_one("#sessions-summary")).splitlines()
            nl, execution = stats["latency_ms"]["nl"]["p95"], stats["latency_ms"]["execution"]["p95"]
            assert summary[2].strip() == "✓ session 3f2b8c1e: 3 turns · 50% ok"
            assert summary[3].strip() == f"P95 NL {short_ms(nl)} · exec {short_ms(execution)}"

    run(scenario())


# -- the latency panel ----------------------------------------------------------------------------


def _expected_row(figure: dict) -> list[str]:
    return [short_ms(figure["p50"]), short_ms(figure["p95"]), short_ms(figure["p99"]), f"{figure['count']:,}"]


def test_whole_log_figures_equal_analyze_s(log: Path) -> None:
    write_log(log, fixture_events())

    async def scenario() -> None:
        app = make_app(log, tail=6)
        async with app.run_test(size=BIG) as pilot:
            await loaded(pilot)
            await pilot.press("w")
            figures = app.panels.figures(force=True)[0]
            expected = aggregate(log).stats.summary()  # what `obra-monitor analyze --json` prints
            assert figures is not None
            assert figures["latency_ms"] == expected["latency_ms"]
            assert figures["execution"] == expected["execution"]
            assert figures["errors"]["rate"] == expected["errors"]["rate"]
            await pilot.pause()
            assert "whole log" in latency(app).splitlines()[0]
            for label, key in (("NL", "nl"), ("exec", "execution"), ("impl", "implementer")):
                assert latency_row(app, label) == _expected_row(expected["latency_ms"][key])
            assert "ok  60.0% of 5  errors 50.0%/turn" in latency(app)
            await pilot.press("w")
            assert "last 5m" in latency(app).splitlines()[0]

    run(scenario())


def test_window_figures_equal_stats_over_the_window_and_slide(log: Path) -> None:
    write_log(log, conversation(20))  # 10:00:00 .. 10:00:57, one turn every 3 s

    async def scenario() -> None:
        app = make_app(log, tail=10, rules=dataclasses.replace(QUIET, window_minutes=0.5))
        async with app.run_test(size=BIG) as pilot:
            await loaded(pilot)
            since = Selection(since=__import__("datetime").datetime(2026, 12, 4, 10, 0, 28,
                                                                    tzinfo=__import__("datetime").timezone.utc))
            expected = aggregate(log, selection=since).stats.summary()  # the last 30 s: 10:00:28 on
            assert latency(app).splitlines()[0].startswith(" Latency last 30s to 10:00:57")
            assert latency_row(app, "NL") == _expected_row(expected["latency_ms"]["nl"])
            assert latency_row(app, "exec") == _expected_row(expected["latency_ms"]["execution"])
            assert latency_row(app, "NL")[-1] == "10"
            # Newer events: the window moves to them and the old turns fall out.
            append(log, conversation(3, start=21, minute=2))  # 10:02:00 .. 10:02:06, NL 721..723 ms
            await refreshed(pilot)
            assert latency(app).splitlines()[0].startswith(" Latency last 30s to 10:02:06")
            assert latency_row(app, "NL") == ["722ms", "723ms", "723ms", "3"]
            assert "events 9.0/min" in latency(app)  # 9 events in the 30 s window, counted per minute

    run(scenario())


def test_latency_panel_follows_the_session_filter(log: Path) -> None:
    write_log(log, fixture_events())

    async def scenario() -> None:
        app = make_app(log, rules=QUIET)
        async with app.run_test(size=BIG) as pilot:
            await loaded(pilot)
            assert "all sessions" in latency(app).splitlines()[0]
            await pilot.press("s", "down", "down", "enter")  # 7c1d2e3f
            await until(pilot, lambda: app.panels.scope.ready, "the scope")
            await pilot.pause()
            assert "session 7c1d2e3f" in latency(app).splitlines()[0]
            assert latency_row(app, "NL") == ["3.00s", "3.00s", "3.00s", "1"]
            assert latency_row(app, "impl") == ["8.00s", "8.00s", "8.00s", "1"]
            assert "ok   0.0% of 1" in latency(app)
            await pilot.press("w")
            whole = aggregate(log, selection=Selection(session=SESSION_B)).stats.summary()
            assert latency_row(app, "exec") == _expected_row(whole["latency_ms"]["execution"])
            await pilot.press("home", "enter")
            assert "all sessions" in latency(app).splitlines()[0]

    run(scenario())


def test_latency_panel_toggles_and_shows_a_sparkline(log: Path) -> None:
    write_log(log, conversation(20))

    async def scenario() -> None:
        app = make_app(log)
        async with app.run_test(size=BIG) as pilot:
            await loaded(pilot)
            spark = app.query_one("#latency-spark")
            assert app.panels.latency_panel.display and spark.display
            await refreshed(pilot)
            _figures, series, _note = app.panels.figures()
            assert series and list(spark.data) == series  # NL P95 slice by slice, from the window
            assert max(series) == pytest.approx(max(p["nl_p95"] or 0 for p in app.panels.window.series(len(series))))
            await pilot.press("l")
            assert not app.panels.latency_panel.display
            await pilot.press("l")
            assert app.panels.latency_panel.display

    run(scenario())


# -- alert banners ------------------------------------------------------------------------------


def _error(turn: int, second: int, *, recoverable: bool | None = False, error_type: str = "DatabaseError",
           message: str = "database is locked", session: str = SESSION_A, stage: str = "execution") -> dict:
    fields = {"stage": stage, "error_type": error_type, "error": message}
    if recoverable is not None:
        fields["recoverable"] = recoverable
    return event(E, session, turn, f"2026-12-04T10:05:{second:02d}.000000Z", **fields)


def test_a_live_error_raises_a_banner_that_counts_jumps_and_dismisses(log: Path) -> None:
    write_log(log, conversation(10))

    async def scenario() -> None:
        app = make_app(log, rules=QUIET)
        async with app.run_test(size=BIG) as pilot:
            await loaded(pilot)
            assert banners(app) == "" and not app.query_one("#banners").display
            append(log, [_error(11, 1, message="[bold red]boom[/] \x1b[2J literal")])
            await refreshed(pilot)
            text = banners(app)
            assert text.startswith(" ✖ ERROR  DatabaseError  [execution]  [bold red]boom[/] ␛[2J literal")
            assert "3f2b8c1e #11  10:05:01  a go · x dismiss" in text
            assert app.alert_bar.size.height == 1 if hasattr(app, "alert_bar") else True
            append(log, [_error(12, 2, error_type="Boom"), _error(13, 3, error_type="Crash")])
            await refreshed(pilot)
            assert banners(app).startswith(" ✖ ERROR  Crash  [execution]") and "+2 more" in banners(app)
            # A recoverable error and a failed execution: one amber banner, under the red one.
            append(log, [_error(14, 4, recoverable=True, error_type="ParseError", stage="nl_processing"),
                         event(X, SESSION_B, 2, "2026-12-04T10:05:05.000000Z", success=False,
                               message="Project 7 not found", operation="DELETE", entity="project")])
            await refreshed(pilot)
            red, amber = banners(app).splitlines()
            assert red.startswith(" ✖ ERROR  Crash") and "+2 more" in red
            assert amber.startswith(" ▲ FAILED  DELETE project failed  [execution]  Project 7 not found")
            assert "7c1d2e3f #2" in amber and "+1 more" in amber
            # `a` goes to the red banner's newest error, pausing the stream there.
            await pilot.press("a")
            position = app.stream.cursor_position
            assert position is not None and "Crash" in app.event_log.parse(position)[2].decode()
            assert "PAUSED" in status_line(app)
            await pilot.press("x")
            assert banners(app).startswith(" ▲ FAILED")
            await pilot.press("a")
            assert "Project 7 not found" in app.event_log.parse(app.stream.cursor_position)[2].decode()
            await pilot.press("x")
            assert banners(app) == "" and not app.query_one("#banners").display
            assert "failures in history" not in status_line(app)

    run(scenario())


def test_going_to_an_alert_clears_filters_that_hide_it(log: Path) -> None:
    write_log(log, fixture_events())

    async def scenario() -> None:
        app = make_app(log, rules=QUIET)
        async with app.run_test(size=BIG) as pilot:
            await loaded(pilot)
            await pilot.press("s", "down", "down", "enter", "escape", "4")  # session B only, errors hidden
            append(log, [_error(9, 9)])  # an error of session A
            await refreshed(pilot)
            await pilot.press("a")
            position = app.stream.cursor_position
            assert app.stream.sessions is None and app.stream.kinds == ALL_KINDS
            assert "database is locked" in app.event_log.parse(position)[2].decode()

    run(scenario())


def test_errors_present_at_startup_are_counted_not_bannered(log: Path) -> None:
    write_log(log, fixture_events() + conversation(5, minute=40))  # 3 errors, 2 failed executions

    async def scenario() -> None:
        app = make_app(log, tail=10, rules=QUIET)  # the failures are all in the history
        async with app.run_test(size=BIG) as pilot:
            await loaded(pilot)
            await pilot.pause()
            assert banners(app) == ""
            assert "5 failures in history" in status_line(app)
            append(log, [_error(20, 1)])
            await refreshed(pilot)
            assert banners(app).startswith(" ✖ ERROR  DatabaseError") and "more" not in banners(app)
            assert "5 failures in history" in status_line(app)

    run(scenario())


def test_alert_history_banners_the_errors_present_at_startup(log: Path) -> None:
    write_log(log, fixture_events() + [_error(30, 30, error_type="OldCrash")] + conversation(5, minute=40))

    async def scenario() -> None:
        for tail in (10, 1000):  # failures in the history, or in the first screen's backlog
            app = make_app(log, tail=tail, rules=QUIET, alert_history=True)
            async with app.run_test(size=BIG) as pilot:
                await loaded(pilot)
                app.panels.tick(force=True)
                await pilot.pause()
                red, amber = banners(app).splitlines()
                assert red.startswith(" ✖ ERROR  OldCrash  [execution]  database is locked"), tail
                assert "+" not in red  # the only unrecoverable one
                assert amber.startswith(" ▲ ERROR  ValidationException  [validation]"), tail
                assert "+4 more" in amber  # 2 more recoverable errors, 2 failed executions
                assert "failures in history" not in status_line(app)
                await pilot.press("a")
                assert "OldCrash" in app.event_log.parse(app.stream.cursor_position)[2].decode()

    run(scenario())


# -- alert rules --------------------------------------------------------------------------------


def _at(second: int, kind: str = U, **fields) -> dict:  # type: ignore[no-untyped-def]
    minute, sec = divmod(second, 60)
    return event(kind, SESSION_A, 1, f"2026-12-04T11:{minute:02d}:{sec:02d}.000000Z", **fields)


def test_error_rate_rule_fires_and_clears(log: Path) -> None:
    write_log(log, [_at(s) for s in range(0, 60, 5)])

    async def scenario() -> None:
        rules = dataclasses.replace(QUIET, error_rate_per_minute=3, window_minutes=2)
        app = make_app(log, rules=rules)
        async with app.run_test(size=BIG) as pilot:
            await loaded(pilot)
            append(log, [_at(60 + s, E, stage="execution", error="x", recoverable=True) for s in range(0, 40, 5)])
            await refreshed(pilot)
            alert = banners(app).splitlines()[-1]
            # 8 errors over the 96 s covered (11:00:00 to 11:01:35; at least a minute): 5.0/min
            assert alert.startswith(" ▲ ALERT  5.0 errors/min  above 3/min over the last 2m (8 errors) as of 11:01:35")
            append(log, [_at(300 + s) for s in range(0, 30, 5)])  # three minutes later: no error in the window
            await refreshed(pilot)
            assert "ALERT" not in banners(app)

    run(scenario())


def test_nl_p95_rule_fires_and_clears(log: Path) -> None:
    write_log(log, [_at(s, N, duration_ms=500.0) for s in range(10)])

    async def scenario() -> None:
        rules = dataclasses.replace(QUIET, nl_p95_ms=1000, min_samples=5, window_minutes=1)
        app = make_app(log, rules=rules)
        async with app.run_test(size=BIG) as pilot:
            await loaded(pilot)
            assert "ALERT" not in banners(app)
            append(log, [_at(10 + s, N, duration_ms=3000.0) for s in range(5)])
            await refreshed(pilot)
            # 15 parses: 10 at 500 ms, 5 at 3 s; P95 = 3 s
            assert " ▲ ALERT  NL P95 3.00 s  above 1.00 s over the last 1m (15 parses)" in banners(app)
            assert latency_row(app, "NL")[1] == "3.00s"  # the panel shows the same figure
            append(log, [_at(100 + s, N, duration_ms=400.0) for s in range(5)])
            await refreshed(pilot)
            assert banners(app) == ""  # cleared: only 5 fast parses are in the window now

    run(scenario())


def test_validation_rule_fires_and_clears(log: Path) -> None:
    write_log(log, [_at(s, N, validation="passed") for s in range(6)])

    async def scenario() -> None:
        rules = dataclasses.replace(QUIET, validation_failure_percent=25, min_samples=8, window_minutes=1)
        app = make_app(log, rules=rules)
        async with app.run_test(size=BIG) as pilot:
            await loaded(pilot)
            append(log, [_at(6, N, validation="failed")])
            await refreshed(pilot)
            assert banners(app) == ""  # 7 results: too few to judge
            append(log, [_at(7 + s, N, validation="failed") for s in range(2)])
            await refreshed(pilot)
            assert " ▲ ALERT  validation failing 33%  above 25% over the last 1m (3 of 9)" in banners(app)
            append(log, [_at(8 + s, N, validation="passed") for s in range(4)])
            await refreshed(pilot)
            assert banners(app) == ""  # 3 of 13: 23%

    run(scenario())


def test_no_events_rule_fires_on_the_wall_clock_and_clears_when_events_come(log: Path) -> None:
    write_log(log, [_at(0)])
    newest = ev.parse_ts("2026-12-04T11:00:00Z").timestamp()  # type: ignore[union-attr]

    async def scenario() -> None:
        app = make_app(log, rules=dataclasses.replace(QUIET, no_events_minutes=2))
        clock = [newest + 60.0]
        app.panels.alerts.now = lambda: clock[0]
        async with app.run_test(size=BIG) as pilot:
            await loaded(pilot)
            app.panels._quiet()
            assert banners(app) == ""
            clock[0] = newest + 150.0
            await until(pilot, lambda: "no events" in banners(app), "the timer to see 2.5 quiet minutes")
            assert banners(app).startswith(" ▲ ALERT  no events for 2.5m  the newest is from 2026-12-04 11:00:00 UTC")
            append(log, [_at(155)])
            await refreshed(pilot)
            assert banners(app) == ""

    run(scenario())


def test_a_dismissed_rule_stays_down_until_it_clears_and_the_bell_rings_once(log: Path) -> None:
    write_log(log, [_at(s, N, duration_ms=3000.0) for s in range(10)])

    async def scenario() -> None:
        rules = dataclasses.replace(QUIET, nl_p95_ms=1000, min_samples=5, window_minutes=1, bell=True)
        app = make_app(log, rules=rules)
        rings: list[int] = []
        app.bell = lambda: rings.append(1)  # type: ignore[method-assign]
        async with app.run_test(size=BIG) as pilot:
            await loaded(pilot)
            assert "NL P95" in banners(app) and rings == [1]
            append(log, [_at(10, N, duration_ms=3000.0)])
            await refreshed(pilot)
            assert rings == [1]  # the same alert: no new ring
            await pilot.press("x")
            append(log, [_at(11, N, duration_ms=3000.0)])
            await refreshed(pilot)
            assert banners(app) == ""  # still firing, but dismissed
            append(log, [_at(100 + s, N, duration_ms=10.0) for s in range(5)])  # clears
            await refreshed(pilot)
            append(log, [_at(110 + s, N, duration_ms=5000.0) for s in range(20)])  # fires again
            await refreshed(pilot)
            assert "NL P95" in banners(app) and rings == [1, 1]
            append(log, [_error(1, 1), _error(2, 2, recoverable=True)])
            await refreshed(pilot)
            assert len(banners(app).splitlines()) == 3 and rings == [1, 1, 1]  # one ring per update
            await pilot.press("X")
            assert banners(app) == ""

    run(scenario())


# -- snapshots: the whole screen with every panel, on fixed data ------------------------------------


def _snapshot_log(path: Path) -> Path:
    nasty = event(U, SESSION_B, 9, "2026-12-04T19:58:00.000000Z", input="[bold red]not styled[/] \x1b[2J still literal")
    return write_log(path, conversation(6) + fixture_events() + [nasty])


async def _with_banners(pilot) -> None:  # type: ignore[no-untyped-def]
    app = pilot.app
    app.event_log.clock = lambda: 0.0  # the status bar's rate does not depend on when the snapshot is taken
    await loaded(pilot)
    append(app.path, [
        event(E, SESSION_A, 4, "2026-12-04T19:58:10.000000Z", stage="execution", error_type="DatabaseError",
              error="database is locked [red]x[/]", recoverable=False),
        event(X, SESSION_B, 10, "2026-12-04T19:58:12.000000Z", success=False, message="Project 9 not found",
              operation="DELETE", entity="project"),
    ])
    await refreshed(pilot)


SNAPSHOT_RULES = AlertRules(error_rate_per_minute=0.5)


def test_snapshot_every_panel_160x50(snap_compare, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    async def run_before(pilot) -> None:  # type: ignore[no-untyped-def]
        await _with_banners(pilot)
        await pilot.press("s", "down", "down", "enter", "escape")  # pick 3f2b8c1e; back to the stream
        await until(pilot, lambda: pilot.app.panels.scope.ready, "the scope")
        await refreshed(pilot)

    app = make_app(_snapshot_log(tmp_path / "production.jsonl"), rules=SNAPSHOT_RULES)
    assert snap_compare(app, terminal_size=(160, 50), run_before=run_before)


def test_snapshot_every_panel_80x24(snap_compare, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    async def run_before(pilot) -> None:  # type: ignore[no-untyped-def]
        await _with_banners(pilot)
        await pilot.press("s", "l")  # narrow: the panels are off until asked for, and go under the stream
        await refreshed(pilot)

    app = make_app(_snapshot_log(tmp_path / "production.jsonl"), rules=SNAPSHOT_RULES)
    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)


def test_error_jumps_stay_within_the_picked_sessions(log: Path) -> None:
    write_log(log, fixture_events())

    async def scenario() -> None:
        app = make_app(log, rules=QUIET)
        async with app.run_test(size=BIG) as pilot:
            await loaded(pilot)
            await pilot.press("s", "down", "down", "enter", "escape")  # 7c1d2e3f: one error
            assert app.stream.sessions == {SESSION_B}
            await pilot.press("E")
            position = app.stream.cursor_position
            assert position is not None and app.event_log.index.session_name(position) == SESSION_B
            assert b"Project 12 not found" in app.event_log.parse(position)[2]
            await pilot.press("E")  # session A's older errors are not in the stream
            assert app.stream.cursor_position == position

    run(scenario())
