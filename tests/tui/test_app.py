"""`obra-monitor tui` as a user drives it: Textual's Pilot presses keys, the tests read the screen.

Most tests poll the log explicitly (`app.poll_now()`) so that they are deterministic;
`test_live_append_shows_up_through_the_watcher` uses the real watchfiles worker on a
real file. Waiting is always a bounded loop over `pilot.pause()`, never a fixed sleep.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from obra_monitor import events as ev
from obra_monitor.cli import build_parser
from tests.helpers_log import SESSION_B, append, event, numbered, rotate, write_log
from tests.tui.helpers import SIZE, conversation, loaded, make_app, screen_lines, status_line, types_line, until, widget_text
from textual.command import CommandList, CommandPalette

from tui.detail import DetailScreen
from tui.help import HelpScreen

U = ev.EventType.USER_INPUT


@pytest.fixture
def log(tmp_path: Path) -> Path:
    return tmp_path / "production.jsonl"


def run(coroutine) -> None:  # type: ignore[no-untyped-def]
    asyncio.run(coroutine)


def test_first_screen_shows_the_newest_events_and_the_counts(log: Path) -> None:
    write_log(log, conversation(10) + conversation(5, session=SESSION_B, minute=30))

    async def scenario() -> None:
        app = make_app(log)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            lines = screen_lines(app)
            assert "Found task 5" in lines[-1] and "execution_result" in lines[-1]
            assert "user_input" in lines[-3] and "> show task 5" in lines[-3]
            status = status_line(app)
            assert "● LIVE" in status and "45 events" in status and "2 sessions" in status
            assert "0 malformed" in status and "production.jsonl" in status
            assert str(log.parent) not in status

    run(scenario())


def test_follow_pause_count_new_and_resume(log: Path) -> None:
    write_log(log, numbered(40))

    async def scenario() -> None:
        app = make_app(log)
        async with app.run_test(size=SIZE) as pilot:
            append(log, numbered(2, 40))
            app.poll_now()
            await pilot.pause()
            assert "event 41" in screen_lines(app)[-1]
            await pilot.press("up", "up", "up")
            assert "PAUSED" in status_line(app)
            shown = screen_lines(app)
            append(log, numbered(5, 42))
            app.poll_now()
            await pilot.pause()
            assert screen_lines(app) == shown  # paused: nothing moves
            assert "+5 new" in status_line(app)
            assert "47 events" in status_line(app)
            await pilot.press("end")
            assert "LIVE" in status_line(app)
            assert "event 46" in screen_lines(app)[-1]
            await pilot.press("f")
            assert "PAUSED" in status_line(app)
            await pilot.press("f")
            assert "LIVE" in status_line(app)

    run(scenario())


def test_type_filter_hides_and_shows_types(log: Path) -> None:
    write_log(log, conversation(4))

    async def scenario() -> None:
        app = make_app(log)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("1")  # hide user_input
            lines = screen_lines(app)
            assert len(lines) == 8 and not any("user_input" in line for line in lines)
            assert "user_input" in types_line(app)
            await pilot.press("2", "3")  # nothing left
            assert screen_lines(app) == []
            await pilot.press("1")
            assert all("user_input" in line for line in screen_lines(app))
            await pilot.press("0")
            assert len(screen_lines(app)) == 12

    run(scenario())


def test_type_filter_keeps_the_cursor_on_its_event_and_follows_new_rows(log: Path) -> None:
    write_log(log, conversation(4))

    async def scenario() -> None:
        app = make_app(log)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("up")  # the nl_result of turn 4
            position = app.stream.cursor_position
            await pilot.press("3")  # hide execution_result: the cursor's event stays
            assert app.stream.cursor_position == position
            await pilot.press("end")
            append(log, conversation(1, start=5))
            app.poll_now()
            await pilot.pause()
            lines = screen_lines(app)
            assert "nl_result" in lines[-1] and "task 5" in lines[-1]

    run(scenario())


def test_search_and_next_previous_match(log: Path) -> None:
    items = numbered(30)
    for row in (3, 12, 25):
        items[row] = event(U, turn=row + 1, input=f"Needle number {row}")
    write_log(log, items)

    async def scenario() -> None:
        app = make_app(log)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("slash")
            await pilot.press(*"needle", "enter")
            await until(pilot, lambda: app.search is not None and app.search.done, "the search")
            await pilot.pause()
            assert "3 matches" in types_line(app) and "needle" in types_line(app)
            assert app.stream.cursor_position == 25  # the newest match, searching up from the end
            assert "PAUSED" in status_line(app)
            await pilot.press("N")
            assert app.stream.cursor_position == 12
            await pilot.press("N")
            assert app.stream.cursor_position == 3
            await pilot.press("N")  # wraps
            assert app.stream.cursor_position == 25
            await pilot.press("n")  # wraps the other way
            assert app.stream.cursor_position == 3
            await pilot.press("n")
            assert app.stream.cursor_position == 12
            assert any("Needle number 12" in line for line in screen_lines(app))
            append(log, [event(U, turn=99, input="a new needle")])
            app.poll_now()
            await pilot.pause()
            assert "4 matches" in types_line(app)
            await pilot.press("escape")
            assert app.search is None and "search" not in types_line(app)

    run(scenario())


def test_detail_shows_json_and_turn_and_escape_returns_to_the_same_place(log: Path) -> None:
    write_log(log, conversation(30))

    async def scenario() -> None:
        app = make_app(log)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("pageup", "pageup", "up", "up")
            stream = app.stream
            before = (stream.scroll_y, stream.cursor, screen_lines(app))
            position = stream.cursor_position
            assert position is not None
            await pilot.press("enter")
            await pilot.pause()
            detail = app.screen
            assert isinstance(detail, DetailScreen)
            body = widget_text(detail.query_one("#json-body"))
            expected = app.event_log.parse(position)[0]
            assert f'"ts": "{expected[ev.TS]}",' in body
            assert f'"message": "{expected[ev.MESSAGE]}",' in body
            turn = detail.turn
            assert len(turn) == 3 and position in turn
            turn_types = [app.event_log.parse(row)[0][ev.TYPE] for row in turn]
            assert turn_types == ["user_input", "nl_result", "execution_result"]
            await pilot.press("down")  # another event of the turn
            await pilot.press("escape")
            await pilot.pause()
            assert not isinstance(app.screen, DetailScreen)
            assert (stream.scroll_y, stream.cursor, screen_lines(app)) == before

    run(scenario())


def test_error_jumps(log: Path) -> None:
    E = ev.EventType.ERROR
    items = numbered(20)
    items[4] = event(E, stage="execution", error="first failure")
    items[15] = event(E, stage="validation", error="second failure")
    write_log(log, items)

    async def scenario() -> None:
        app = make_app(log)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("E")
            assert app.stream.cursor_position == 15 and "PAUSED" in status_line(app)
            await pilot.press("E")
            assert app.stream.cursor_position == 4
            await pilot.press("E")  # none older: stays
            assert app.stream.cursor_position == 4
            await pilot.press("e")
            assert app.stream.cursor_position == 15
            assert any("second failure" in line for line in screen_lines(app))

    run(scenario())


def test_rotation_while_running(log: Path) -> None:
    write_log(log, numbered(5))

    async def scenario() -> None:
        app = make_app(log)
        async with app.run_test(size=SIZE) as pilot:
            append(log, numbered(2, 5))
            rotate(log)
            append(log, numbered(3, 7))
            app.poll_now()
            app.poll_now()
            await pilot.pause()
            lines = screen_lines(app)
            assert [line.split("> ")[1].strip() for line in lines] == [f"event {i}" for i in range(10)]
            assert "10 events" in status_line(app)

    run(scenario())


def test_deleted_file_coming_back(log: Path) -> None:
    write_log(log, numbered(3))

    async def scenario() -> None:
        app = make_app(log)
        async with app.run_test(size=SIZE) as pilot:
            os.unlink(log)
            app.poll_now()
            await pilot.pause()
            assert "file missing" in status_line(app)
            assert len(screen_lines(app)) == 3  # what was shown stays readable
            write_log(log, numbered(2, 100))
            app.poll_now()
            await pilot.pause()
            assert "file missing" not in status_line(app)
            assert "event 101" in screen_lines(app)[-1]
            assert "5 events" in status_line(app)

    run(scenario())


def test_missing_file_is_waited_for(log: Path) -> None:
    async def scenario() -> None:
        app = make_app(log)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            assert "WAITING" in status_line(app)
            assert f"waiting for {log} to appear" in app.stream.empty_message
            write_log(log, numbered(2))
            app.poll_now()
            await pilot.pause()
            assert "LIVE" in status_line(app) and "2 events" in status_line(app)
            assert "event 1" in screen_lines(app)[-1]

    run(scenario())


def test_malformed_lines_are_counted_and_shown(log: Path) -> None:
    write_log(log, numbered(2) + [b"this is not json", b'{"type": 42}', event(U, input="after")])

    async def scenario() -> None:
        app = make_app(log)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            assert "2 malformed" in status_line(app)
            lines = screen_lines(app)
            assert "malformed" in lines[2] and "this is not json" in lines[2]
            assert "malformed" in lines[3]
            await pilot.press("7")  # hide other + malformed
            assert len(screen_lines(app)) == 3

    run(scenario())


def test_markup_and_escape_sequences_show_literally(log: Path) -> None:
    nasty = "[bold red]boom[/] \x1b[2J\x1b]0;title\x07 \x9b31m [link=http://x]y[/link]"
    write_log(log, [event(U, input=nasty), event(ev.EventType.ERROR, stage="[/]", error="[red]", context={"k": "\x1b[1m"})])

    async def scenario() -> None:
        app = make_app(log)
        async with app.run_test(size=(200, 24)) as pilot:
            await pilot.pause()
            lines = screen_lines(app)
            assert "[bold red]boom[/] ␛[2J␛]0;title� �31m [link=http://x]y[/link]" in lines[0]
            assert "[[/]]" in lines[1] and "[red]" in lines[1]
            stream = app.stream
            for y in range(2):
                text = "".join(segment.text for segment in stream.render_line(y))
                assert "\x1b" not in text and "\x9b" not in text and "\x07" not in text
            await pilot.press("up", "enter")
            await pilot.pause()
            body = widget_text(app.screen.query_one("#json-body"))
            assert '"input": "[bold red]boom[/] \\u001b[2J' in body
            assert "\x1b" not in body and "\x9b" not in body

    run(scenario())


def test_history_loads_behind_the_newest_events(log: Path) -> None:
    write_log(log, numbered(300) + [b"garbage"] + numbered(20, 300))

    async def scenario() -> None:
        app = make_app(log, tail=10)
        async with app.run_test(size=SIZE) as pilot:
            await loaded(pilot)
            assert "320 events" in status_line(app) and "1 malformed" in status_line(app)
            assert "event 319" in screen_lines(app)[-1]
            await pilot.press("home")
            assert "event 0" in screen_lines(app)[0]
            assert app.stream.row_count == 321

    run(scenario())


def test_history_keeps_a_paused_place_when_it_lands(log: Path) -> None:
    write_log(log, numbered(200))

    async def scenario() -> None:
        app = make_app(log, tail=30)
        app._start_history = lambda: None  # type: ignore[method-assign]  # load it by hand below
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("up", "up")
            before = screen_lines(app)
            app._start_history = type(app)._start_history.__get__(app)  # type: ignore[method-assign]
            app._start_history()
            await loaded(pilot)
            assert screen_lines(app) == before
            assert app.stream.row_count == 200
            assert "PAUSED" in status_line(app) and "+" not in status_line(app)

    run(scenario())


def test_live_append_shows_up_through_the_watcher(log: Path) -> None:
    write_log(log, numbered(3))

    async def scenario() -> None:
        app = make_app(log, watch_files=True)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            append(log, [event(U, input="written by the host app")])
            await until(pilot, lambda: any("written by the host app" in line for line in screen_lines(app)),
                        "the appended event on screen")
            assert "4 events" in status_line(app)
            rotate(log)
            append(log, [event(U, input="after rotation")])
            await until(pilot, lambda: "after rotation" in screen_lines(app)[-1], "the event after rotation")

    run(scenario())


def test_help_screen_and_command_palette(log: Path) -> None:
    write_log(log, numbered(10))

    async def scenario() -> None:
        app = make_app(log)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("question_mark")
            assert isinstance(app.screen, HelpScreen)
            await pilot.press("escape")
            assert not isinstance(app.screen, HelpScreen)
            titles = [command.title for command in app.get_system_commands(app.screen)]
            for title in ("Follow newest events", "Search", "Show / hide error", "Open event detail"):
                assert title in titles
            await pilot.press("up")
            assert "PAUSED" in status_line(app)
            await pilot.press("ctrl+p")
            await pilot.press(*"follow newest")
            assert isinstance(app.screen, CommandPalette)
            hits = app.screen.query_one(CommandList)
            await until(pilot, lambda: hits.option_count > 0, "palette hits")
            assert "Follow newest events" in str(hits.get_option_at_index(0).prompt)
            await pilot.press("enter")
            await until(pilot, lambda: "LIVE" in status_line(app), "following again")

    run(scenario())


def test_command_line_registers_tui() -> None:
    args = build_parser().parse_args(["tui", "some.jsonl"])
    assert args.path == "some.jsonl" and args.run.__module__ == "obra_monitor.tui_command"
