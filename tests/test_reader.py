"""The reader: rotated sets, following across rotation, torn, malformed and long lines."""

from __future__ import annotations

import os
from pathlib import Path

import orjson
import pytest

from obra_monitor.reader import (
    NO_TYPE,
    NOT_JSON,
    NOT_OBJECT,
    TOO_LONG,
    EventScan,
    LogReader,
    LogSet,
    rotated_set,
)
from tests.helpers_log import append, event, inputs, line, numbered, rotate, write_log


@pytest.fixture
def log(tmp_path: Path) -> Path:
    return tmp_path / "logs" / "production.jsonl"


def test_rotated_set_is_oldest_first_and_ignores_other_files(log):
    write_log(log, numbered(1))
    for name in ("production.jsonl.2", "production.jsonl.10", "production.jsonl.1",
                 "production.jsonl.lock", "production.jsonl.old", "other.jsonl.1"):
        (log.parent / name).write_bytes(b"")
    assert [p.name for p in rotated_set(log)] == [
        "production.jsonl.10", "production.jsonl.2", "production.jsonl.1", "production.jsonl"]


def test_reads_the_rotated_set_oldest_to_newest(log):
    write_log(log, numbered(2, 0))
    rotate(log)
    write_log(log, numbered(2, 2))
    rotate(log)
    write_log(log, numbered(2, 4))
    with LogReader(log) as reader:
        records = reader.poll()
        assert inputs(records) == [f"event {i}" for i in range(6)]
        assert reader.poll() == []


def test_records_say_where_they_came_from_and_can_be_re_read(log):
    events = numbered(3)
    write_log(log, events)
    with LogReader(log, keep_open=True) as reader:
        records = reader.poll()
        offset = 0
        for record, item in zip(records, events):
            raw = line(item)
            assert (record.offset, record.length) == (offset, len(raw) - 1)
            assert reader.read_line(record.file, record.offset, record.length) == raw[:-1]
            offset += len(raw)
        # Still readable after the file rotated away and was even deleted.
        rotate(log)
        log.with_name("production.jsonl.1").unlink()
        last = records[-1]
        assert reader.read_line(last.file, last.offset, last.length) == line(events[-1])[:-1]


def test_read_line_finds_a_closed_file_by_identity_after_rotation(log):
    write_log(log, numbered(2))
    with LogReader(log) as reader:
        first = reader.poll()[0]
        rotate(log)
        write_log(log, numbered(1, 9))
        reader.poll()
        reader.poll()  # the old file is finished and closed now
        assert orjson.loads(reader.read_line(first.file, first.offset, first.length))["input"] == "event 0"


def test_follows_rotation_without_losing_or_repeating(log):
    write_log(log, numbered(3, 0))
    seen = []
    with LogReader(log) as reader:
        seen += reader.poll()
        append(log, numbered(2, 3))
        rotate(log)  # live -> .1 (rename), a new live file appears
        append(log, numbered(2, 5))
        seen += reader.poll()
        # A writer that had the old file open appends one last line to it after the rename.
        append(log.with_name("production.jsonl.1"), numbered(1, 7))
        append(log, numbered(1, 8))
        seen += reader.poll()
        seen += reader.poll()
    got = inputs(seen)
    assert sorted(got, key=lambda text: int(text.split()[1])) == [f"event {i}" for i in range(9)]
    assert len(got) == len(set(got)) == 9
    assert got[:7] == [f"event {i}" for i in range(7)]  # the old file is drained before the new one
    assert reader.rotations == 1


def test_several_rotations_between_two_polls(log):
    write_log(log, numbered(1, 0))
    with LogReader(log) as reader:
        seen = reader.poll()
        for start in (1, 3, 5):
            append(log, numbered(1, start))
            rotate(log)
            append(log, numbered(1, start + 1))
        seen += reader.poll() + reader.poll()
    assert inputs(seen) == [f"event {i}" for i in range(7)]


def test_live_file_renamed_and_not_yet_recreated(log):
    write_log(log, numbered(1, 0))
    with LogReader(log) as reader:
        seen = reader.poll()
        rotate(log)
        append(log.with_name("production.jsonl.1"), numbered(1, 1))
        seen += reader.poll()  # no live file: keeps reading the renamed one
        append(log, numbered(1, 2))
        seen += reader.poll() + reader.poll()
    assert inputs(seen) == ["event 0", "event 1", "event 2"]


def test_a_torn_last_line_is_held_until_its_newline(log):
    write_log(log, numbered(1, 0))
    whole = line(numbered(1, 1)[0])
    with LogReader(log) as reader:
        assert len(reader.poll()) == 1
        append(log, [], raw=whole[:20])
        assert reader.poll() == []
        append(log, [], raw=whole[20:-1])
        assert reader.poll() == []
        append(log, [], raw=b"\n")
        (record,) = reader.poll()
    assert record.event["input"] == "event 1"
    assert (record.offset, record.length) == (len(line(numbered(1, 0)[0])), len(whole) - 1)


def test_malformed_lines_are_counted_kept_and_never_fatal(log):
    write_log(log, [
        numbered(1, 0)[0],
        b"this is not json",
        b'["an", "array"]',
        b'{"no_type": 1}',
        b'{"type": 5}',
        bytes(range(256)).replace(b"\n", b""),
        b"",
        b"   ",
        b'{"type":"user_input","input":"event 1"}\r',
        numbered(1, 2)[0],
    ])
    with LogReader(log) as reader:
        records = reader.poll()
    problems = [record.problem for record in records]
    assert problems == [None, NOT_JSON, NOT_OBJECT, NO_TYPE, NO_TYPE, NOT_JSON, None, None]
    assert reader.malformed == 5
    assert records[1].text == b"this is not json" and records[1].event is None
    assert inputs([records[0], records[-2], records[-1]]) == ["event 0", "event 1", "event 2"]


def test_very_long_lines_are_capped(log):
    huge = event("user_input", input="x" * 5000)
    write_log(log, [numbered(1, 0)[0], huge, numbered(1, 1)[0]])
    with LogReader(log, max_line=1000, block_size=256) as reader:
        records = reader.poll()
    assert [record.problem for record in records] == [None, TOO_LONG, None]
    assert records[1].length == len(line(huge)) - 1
    assert len(records[1].text) <= 4096
    assert inputs([records[0], records[2]]) == ["event 0", "event 1"]


def test_a_long_line_arriving_in_pieces_is_capped_once(log):
    write_log(log, numbered(1, 0))
    with LogReader(log, max_line=200, block_size=64) as reader:
        reader.poll()
        for _ in range(5):
            append(log, [], raw=b"y" * 70)
            assert reader.poll() == []
        append(log, [], raw=b"\n" + line(numbered(1, 1)[0]))
        records = reader.poll()
    assert [(r.problem, r.length) for r in records] == [(TOO_LONG, 350), (None, records[1].length)]


def test_truncation_starts_over(log):
    write_log(log, numbered(3, 0))
    with LogReader(log) as reader:
        reader.poll()
        with open(log, "r+b") as handle:  # copy-truncate, which our writer never does
            handle.truncate(0)
        append(log, numbered(1, 3))
        assert inputs(reader.poll()) == ["event 3"]
        assert any("truncated" in notice for notice in reader.notices)


def test_missing_file_is_waited_for(log):
    with LogReader(log, start="end") as reader:
        assert not reader.exists
        assert reader.poll() == []
        write_log(log, numbered(2))
        assert inputs(reader.poll()) == ["event 0", "event 1"]
        assert reader.exists


def test_start_at_end_and_backlog(log):
    write_log(log, numbered(3, 0))
    rotate(log)
    write_log(log, numbered(2, 3))
    append(log, [], raw=b'{"type":"user_input","inp')  # a line being written right now
    with LogReader(log, start="end") as reader:
        backlog = reader.backlog(4)
        assert inputs(backlog) == ["event 1", "event 2", "event 3", "event 4"]
        only_odd = reader.backlog(2, lambda r: int(r.event["input"].split()[1]) % 2 == 1)
        assert inputs(only_odd) == ["event 1", "event 3"]
        append(log, [], raw=b'ut":"event 5"}\n')
        assert inputs(reader.poll()) == ["event 5"]


def test_older_logger_events_are_read_as_they_are(log):
    old = {"type": "nl_result", "ts": "2026-12-04T19:56:34+00:00", "session": "s", "operation": "delete",
           "mystery_field": [1, 2]}
    write_log(log, [old, {"type": "brand_new_type", "x": 1}])
    with LogReader(log) as reader:
        records = reader.poll()
    assert [r.event for r in records] == [old, {"type": "brand_new_type", "x": 1}]


@pytest.mark.parametrize("parts", [1, 2, 3, 5, 8])
def test_bulk_scan_in_parts_sees_every_event_once(log, parts):
    lines = []
    for i in range(300):
        if i % 37 == 0:
            lines.append(b"garbage line %d" % i)
        lines.append(event("user_input", turn=i + 1, input=f"event {i}" + "z" * (i % 50)))
    write_log(log, lines[:120])
    rotate(log)
    write_log(log, lines[120:200])
    rotate(log)
    write_log(log, lines[200:])
    with LogSet(log) as log_set:
        runs = log_set.segments(parts)
        assert len(runs) == parts
        got, malformed = [], 0
        for run in runs:
            scan = EventScan(run, block_size=97)
            for batch in scan:
                got += batch
            malformed += scan.malformed
    assert [e["input"].rstrip("z") for e in got] == [f"event {i}" for i in range(300)]
    assert malformed == 9


def test_bulk_scan_prefilter_and_samples(log):
    write_log(log, [event("user_input", session="aaa-1", input="a"), b"junk",
                    event("user_input", session="bbb-2", input="b")])
    with LogSet(log) as log_set:
        scan = EventScan(log_set.segments(1)[0], prefilter=b"bbb")
        assert [e["input"] for batch in scan for e in batch] == ["b"]
        scan = EventScan(log_set.segments(1)[0])
        list(scan)
    assert scan.malformed == 1
    assert scan.samples[0].problem == NOT_JSON and scan.samples[0].text == b"junk"


def test_a_crash_torn_line_in_a_rotated_file_is_reported_not_lost(log):
    write_log(log, numbered(1, 0))
    append(log, [], raw=b'{"type":"user_input","ses')
    rotate(log)
    write_log(log, numbered(1, 1))
    with LogReader(log) as reader:
        records = reader.poll()
    assert [r.problem for r in records] == [None, NOT_JSON, None]


def test_fds_are_not_leaked(log):
    write_log(log, numbered(1))
    before = len(os.listdir("/proc/self/fd"))
    for _ in range(5):
        with LogReader(log) as reader:
            reader.poll()
            rotate(log)
            append(log, numbered(1))
            reader.poll()
            reader.poll()
    assert len(os.listdir("/proc/self/fd")) == before
