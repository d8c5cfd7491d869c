"""The TUI's data side, without a screen: index, history, search, turns.

The reference for every row is `LogReader(start="beginning")`: whatever the fast
history index finds (offsets, lengths, kinds, sessions) must be what the reader
returns line by line, and the statistics must be what `stats.aggregate` computes.
"""

from __future__ import annotations

import os
from pathlib import Path

import orjson
import pytest

from obra_monitor import events as ev
from obra_monitor.reader import MAX_LINE, LogReader
from obra_monitor.stats import aggregate
from tests.helpers_log import SESSION_A, SESSION_B, SESSION_OLD, append, event, fixture_events, numbered, rotate, write_log
from tests.tui.helpers import conversation
from tui.history import load_history, plan_history, split
from tui.index import ALL_KINDS, CODES, MALFORMED, OTHER, EventIndex, kind_of
from tui.log import EventLog
from tui.search import Search, needle_for

U = ev.EventType.USER_INPUT


@pytest.fixture
def log(tmp_path: Path) -> Path:
    return tmp_path / "production.jsonl"


def odd_lines() -> list[object]:
    """Lines the fast path does not recognize, mixed with ones it does."""
    return [
        event(U, input="plain"),
        b'{"ts":"2026-12-04T10:00:00Z","type":"user_input","session":"' + SESSION_B.encode() + b'","input":"keys reordered"}',
        b'{"type":"user_input","input":"no session"}',
        event("custom_event", note="an unknown type"),
        b"not json at all",
        b"[1, 2, 3]",
        b'{"no_type": true}',
        b"   ",  # blank: skipped by everyone
        event(U, input="after a blank"),
        b'{"type":"user_input","session":"x","input":"crlf"}\r',
        b'{"type":"user_input","session":"' + SESSION_A.encode() + b'","input":"torn',  # torn: malformed
        event(ev.EventType.ERROR, stage="execution", error="boom", context={"session": "nested"}),
        event(U, session=None, input="null session"),
    ]


def reference(path: Path) -> list[tuple[int, int, int, str | None]]:
    """(offset, length, kind, session) of every line, as LogReader reads them."""
    with LogReader(path) as reader:
        rows = []
        for record in reader.poll():
            session = record.event.get(ev.SESSION) if record.event else None
            kind = MALFORMED if record.problem else kind_of(record.event)
            rows.append((record.offset, record.length, kind, session if isinstance(session, str) else None))
        return rows


def index_rows(index: EventIndex) -> list[tuple[int, int, int, str | None]]:
    return [(index.offsets[i], index.lengths[i], index.kinds[i], index.session_name(i)) for i in range(len(index))]


def rounded(value: object) -> object:
    """A summary with floats rounded (sums added in another order differ in the last bits)."""
    if isinstance(value, float):
        return round(value, 9)
    if isinstance(value, dict):
        return {key: rounded(item) for key, item in value.items()}
    if isinstance(value, list):
        return [rounded(item) for item in value]
    return value


def full_plan(path: Path):  # type: ignore[no-untyped-def]
    st = os.stat(path)
    return plan_history(path, (st.st_dev, st.st_ino, st.st_size), lambda fd: 0)


def test_history_index_matches_the_reader_line_for_line(log: Path) -> None:
    write_log(log, odd_lines() + fixture_events())
    history = load_history(full_plan(log), processes=0)
    assert history is not None
    assert index_rows(history.index) == reference(log)
    assert history.malformed == 4


def test_history_index_handles_a_last_line_without_newline_and_an_overlong_line(log: Path) -> None:
    write_log(log, [event(U, input="first")])
    append(log, [], raw=b'{"type":"user_input","input":"' + b"x" * (MAX_LINE + 10) + b'"}\n')
    append(log, [], raw=orjson.dumps(event(U, input="last, no newline")))
    history = load_history(full_plan(log), processes=0)
    assert history is not None
    index = history.index
    kinds = list(index.kinds)
    assert kinds == [CODES[U], MALFORMED, CODES[U]]
    assert index.lengths[1] == MAX_LINE + 10 + len('{"type":"user_input","input":""}')
    assert index.offsets[2] == index.offsets[1] + index.lengths[1] + 1


def test_history_covers_the_rotated_set_in_order(log: Path) -> None:
    write_log(log, numbered(5, 0))
    rotate(log)
    write_log(log, numbered(5, 5))
    rotate(log)
    write_log(log, numbered(5, 10))
    plan = full_plan(log)
    assert [segment.file.path.name for segment in plan.segments] == [
        "production.jsonl.2", "production.jsonl.1", "production.jsonl"]
    history = load_history(plan, processes=0)
    assert history is not None and len(history.index) == 15
    assert index_rows(history.index)[-5:] == reference(log)[-5:]


@pytest.mark.parametrize("processes", [0, 3])
def test_history_in_parts_is_the_reader_and_the_shared_aggregate(log: Path, processes: int) -> None:
    events = conversation(60, session=SESSION_B) + fixture_events() + conversation(60, minute=30)
    write_log(log, events + [b"garbage line"] + odd_lines())
    plan = full_plan(log)
    history = load_history(plan, processes=processes, min_part=1000)
    assert history is not None and not plan.notes
    expected = aggregate(log, jobs=1)
    assert history.malformed == expected.malformed == 5
    assert rounded(history.stats.summary()) == rounded(expected.stats.summary())
    assert index_rows(history.index) == reference(log)


def test_history_falls_back_to_this_process_when_workers_fail(log: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    write_log(log, conversation(100))
    monkeypatch.setattr("tui.history._child_env", lambda: {"PYTHONPATH": "/nonexistent", "PYTHONNOUSERSITE": "1",
                                                           "PATH": os.environ.get("PATH", "")})
    monkeypatch.setattr("sys.executable", "/bin/false")
    plan = full_plan(log)
    history = load_history(plan, processes=2, min_part=1000)
    assert history is not None and len(history.index) == 300 and history.stats.events == 300
    assert plan.notes and "history workers failed" in plan.notes[0]


def test_split_cuts_the_history_into_ordered_byte_ranges(log: Path) -> None:
    write_log(log, numbered(300))
    plan = full_plan(log)
    assert len(split(plan, 2)) == 1  # small logs are not split
    runs = split(plan, 2, min_bytes=1000)
    assert len(runs) == 2
    assert runs[0][0].start == 0 and runs[0][-1].end == runs[1][0].start
    assert runs[1][-1].end == plan.segments[-1].end


def test_event_log_shows_the_tail_first_and_the_history_fills_in_exactly(log: Path) -> None:
    write_log(log, fixture_events() + numbered(30))
    expected = reference(log)
    event_log = EventLog(log, tail=10)
    try:
        assert event_log.open() == 10
        assert not event_log.loaded
        plan = event_log.history
        assert plan is not None
        history = load_history(plan, processes=0)
        assert history is not None
        append(log, numbered(3, 100))  # arrives while the history loads
        assert event_log.poll()[0] == 3
        assert event_log.adopt_history(history) == len(expected) - 10
        assert event_log.loaded
        rows = index_rows(event_log.index)
        assert rows[: len(expected)] == expected
        assert len(rows) == len(expected) + 3
        assert rounded(event_log.stats.summary()) == rounded(aggregate(log, jobs=1).stats.summary())
        assert [event_log.parse(row)[0][ev.INPUT] for row in range(len(rows) - 3, len(rows))] == [
            "event 100", "event 101", "event 102"]
    finally:
        event_log.close()


def test_event_log_without_history_is_loaded_at_once(log: Path) -> None:
    write_log(log, numbered(5))
    event_log = EventLog(log, tail=10)
    assert event_log.open() == 5
    assert event_log.loaded and event_log.history is None
    assert event_log.stats.events == 5
    event_log.close()


def test_turn_of_gathers_the_same_session_and_turn(log: Path) -> None:
    events = conversation(3, session=SESSION_A)
    interleaved = []
    for index, item in enumerate(events):
        interleaved.append(item)
        if index % 2 == 0:
            interleaved.append(event(U, session=SESSION_B, turn=2, input="other session, same turn number"))
    write_log(log, interleaved)
    event_log = EventLog(log)
    event_log.open()
    sessions = [event_log.index.session_name(row) for row in range(len(event_log.index))]
    # The nl_result of turn 2 of session A:
    target = [row for row in range(len(sessions)) if sessions[row] == SESSION_A][4]
    turn = event_log.turn_of(target)
    assert [event_log.parse(row)[0][ev.TYPE] for row in turn] == [
        "user_input", "nl_result", "execution_result"]
    assert {event_log.parse(row)[0][ev.TURN] for row in turn} == {2}
    assert {sessions[row] for row in turn} == {SESSION_A}
    event_log.close()


def test_turn_of_without_turn_numbers_runs_from_input_to_input(log: Path) -> None:
    N = ev.EventType.NL_RESULT
    write_log(log, [
        event(U, SESSION_OLD, None, input="first"), event(N, SESSION_OLD, None, intent="COMMAND"),
        event(U, SESSION_OLD, None, input="second"), event(N, SESSION_OLD, None, intent="QUESTION"),
        event(ev.EventType.EXECUTION_RESULT, SESSION_OLD, None, success=True),
        event(U, SESSION_OLD, None, input="third"),
    ])
    event_log = EventLog(log)
    event_log.open()
    assert event_log.turn_of(3) == [2, 3, 4]
    assert event_log.turn_of(2) == [2, 3, 4]
    assert event_log.turn_of(0) == [0, 1]
    event_log.close()


def test_search_finds_rows_case_insensitively_and_json_escaped(log: Path) -> None:
    write_log(log, [
        event(U, input="Delete Project 12"),
        event(U, input='say "hi" to [bold red]x[/]'),
        b"   ",
        event(U, input="nothing here"),
        event(U, input="delete project 7"),
    ])
    event_log = EventLog(log)
    event_log.open()
    for text, rows in (("delete project", [0, 3]), ('"hi"', [1]), ("[bold red]", [1]), ("absent", [])):
        search = Search(text, len(event_log.index))
        search.scan(event_log)
        assert search.done and list(search.found) == rows, text
    assert needle_for('a"b') == (b'a\\"b', True)
    event_log.close()


def test_search_next_wraps_and_skips_hidden_rows(log: Path) -> None:
    write_log(log, numbered(20))
    event_log = EventLog(log)
    event_log.open()
    search = Search("event 1", len(event_log.index))  # rows 1 and 10..19
    search.scan(event_log)
    assert list(search.found) == [1] + list(range(10, 20))
    everything = lambda row: True  # noqa: E731
    assert search.next(5, True, everything) == 10
    assert search.next(19, True, everything) == 1
    assert search.next(1, False, everything) == 19
    assert search.next(12, False, lambda row: row < 5) == 1
    append(log, numbered(1, 100))
    event_log.poll()
    search.check(event_log, 20, 21)
    assert search.next(19, True, everything) == 20
    event_log.close()


def test_index_positions_filter_by_kind(log: Path) -> None:
    write_log(log, fixture_events() + [b"junk", event("custom")])
    event_log = EventLog(log)
    event_log.open()
    index = event_log.index
    errors = index.positions(frozenset({CODES["error"]}))
    assert [event_log.parse(row)[0][ev.TYPE] for row in errors] == ["error"] * 3
    assert list(index.positions(frozenset({OTHER, MALFORMED}))) == [len(index) - 2, len(index) - 1]
    assert len(index.positions(ALL_KINDS)) == len(index)
    event_log.close()
