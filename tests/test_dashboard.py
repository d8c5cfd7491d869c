"""`obra-monitor dashboard`: the data the page is built from, the page, the command line.

The figures of every view must be the ones stats.py gives for the same events:
the 24h view equals `aggregate(selection=Selection(since=newest - 24h))`, and so
on. The browser test (test_dashboard_browser.py) checks what the page shows.
"""

from __future__ import annotations

import html.parser
import json
import math
import os
import subprocess
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from obra_monitor import dashboard
from obra_monitor import events as ev
from obra_monitor.cli import main
from obra_monitor.stats import CONFIDENCE_BINS, Selection, Stats, Timeline, aggregate
from tests.helpers_log import event, write_log

NEWEST = datetime(2026, 3, 10, 12, 0, 0, tzinfo=timezone.utc)
S1 = "11111111-1111-4111-8111-111111111111"  # last 24 hours
S2 = "22222222-2222-4222-8222-222222222222"  # 24 hours .. 7 days before the newest event
S3 = "33333333-3333-4333-8333-333333333333"  # 7 .. 30 days
S4 = "44444444-4444-4444-8444-444444444444"  # older than 30 days
S5 = "55555555-5555-4555-8555-555555555555"  # right at the 24-hour boundary
INJECTION = "<script>alert(1)</script>"
HTML_ERROR = 'Bad name "<img src=x onerror=alert(2)>" & more'


def at(hours: float = 0, seconds: float = 0) -> str:
    """The ts `hours` (and `seconds`) before the newest event."""
    moment = NEWEST - timedelta(hours=hours, seconds=seconds)
    return moment.isoformat().replace("+00:00", "Z")


def nl(session: str, turn: int, ts: str, intent: str, confidence: float, operation: str | None,
       duration: float, validation: str = "passed", **fields: Any) -> dict[str, Any]:
    return event(ev.EventType.NL_RESULT, session, turn, ts, intent=intent, confidence=confidence,
                 operation=operation, entity="project", validation=validation, duration_ms=duration, **fields)


def fixture_events() -> list[dict[str, Any] | str]:
    """A log whose figures are known per view (see the tests below)."""
    stages = {"intent": 0.9, "operation": 0.8, "entity": 0.7, "params": 0.6}
    return [
        # older than 30 days: in no view
        event("user_input", S4, 1, at(40 * 24), input="list projects"),
        nl(S4, 1, at(40 * 24, -1), "COMMAND", 0.9, "QUERY", 50),
        # 7 .. 30 days
        event("user_input", S3, 1, at(10 * 24), input="show open tasks"),
        nl(S3, 1, at(10 * 24, -1), "COMMAND", 0.7, "QUERY", 600),
        event("execution_result", S3, 1, at(10 * 24, -2), success=True, message="Found 3 tasks",
              total_duration_ms=700, operation="QUERY"),
        # 24 hours .. 7 days
        event("user_input", S2, 1, at(50), input="create epic called search"),
        nl(S2, 1, at(50, -1), "COMMAND", 0.8, "CREATE", 400, stages=stages),
        event("execution_result", S2, 1, at(50, -2), success=True, message="Created epic #4",
              total_duration_ms=500, operation="CREATE"),
        event("user_input", S2, 2, at(49), input="update project -1"),
        nl(S2, 2, at(49, -1), "COMMAND", 0.2, "UPDATE", 50, validation="failed"),
        event("error", S2, 2, at(49, -2), stage="validation", error_type="ValidationException",
              error=HTML_ERROR, recoverable=True),
        # one second before the 24-hour boundary: in 7d, not in 24h
        event("user_input", S5, 1, at(24, 1), input="hello"),
        # exactly at the boundary: in 24h
        event("user_input", S5, 2, at(24), input="hello again"),
        # the last 24 hours
        event("user_input", S1, 1, at(2), input="delete project 5"),
        nl(S1, 1, at(2, -1), "COMMAND", 0.9, "DELETE", 100, stages=stages),
        event("execution_result", S1, 1, at(2, -2), success=True, message="Deleted 1 projects",
              total_duration_ms=150, operation="DELETE"),
        event("user_input", S1, 2, at(1), input=INJECTION),
        nl(S1, 2, at(1, -1), "COMMAND", 0.5, "DELETE", 300),
        event("error", S1, 2, at(1, -2), stage="execution", error_type="EntityNotFoundError",
              error="Project 7 not found", recoverable=False),
        event("execution_result", S1, 2, at(1, -3), success=False, message="Project 7 not found",
              total_duration_ms=900, operation="DELETE"),
        # no readable time: in no view
        {"type": "user_input", "session": S3, "turn": 2, "input": "no time"},
        event("user_input", S3, 3, "yesterday-ish", input="bad time"),
        "this line is not JSON",
        # the newest event
        event("user_input", S1, 3, at(0, 1), input="what can you do?"),
        nl(S1, 3, at(0), "QUESTION", 1.0, None, 200),
    ]


@pytest.fixture
def log(tmp_path: Path) -> Path:
    return write_log(tmp_path / "production.jsonl", fixture_events())


def view(data: dict[str, Any], key: str) -> dict[str, Any]:
    return next(v for v in data["views"] if v["key"] == key)


def expected_window(path: Path, hours: int, since: datetime | None = None, top: int = 10) -> Stats:
    cutoff = NEWEST - timedelta(hours=hours)
    return aggregate(path, selection=Selection(since=max(cutoff, since) if since else cutoff), top=top).stats


def same_summary(got: Any, expected: Any) -> None:
    """Equal, floats to 12 digits: mean confidences are sums of floats, added in another order."""
    assert _close(got, expected), (got, expected)


def _close(a: Any, b: Any) -> bool:
    if isinstance(a, dict) and isinstance(b, dict):
        return list(a) == list(b) and all(_close(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_close(x, y) for x, y in zip(a, b))
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-12)
    return a == b and type(a) is type(b)


# ---------------------------------------------------------------------------
# The data: every figure is stats.py's


def test_each_view_equals_stats_over_its_window(log):
    data = dashboard.build_data(log)
    assert [v["key"] for v in data["views"]] == ["24h", "7d", "30d"]
    assert data["newest"] == "2026-03-10T12:00:00Z"
    for key, hours in (("24h", 24), ("7d", 168), ("30d", 720)):
        shown = view(data, key)
        stats = expected_window(log, hours)
        same_summary(shown["summary"], stats.summary(10))
        assert shown["confidence_histogram"] == stats.confidence_histogram()
        assert shown["sessions_with_most_failures"] == stats.sessions_with_most_failures(10)
        assert shown["start"] == (NEWEST - timedelta(hours=hours)).isoformat().replace("+00:00", "Z")
        assert shown["end"] == data["newest"]


def test_known_figures_per_view(log):
    data = dashboard.build_data(log)
    day, week, month = (view(data, key)["summary"] for key in ("24h", "7d", "30d"))
    # 24h: S1's three turns and the boundary event
    assert day["events"]["total"] == 10
    assert day["sessions"]["count"] == 2
    assert day["operations"]["DELETE"]["success_rate"] == 0.5
    assert day["latency_ms"]["nl"]["p50"] == 200.0
    assert day["errors"]["rate"] == 1 / 4
    assert [row["input"] for row in day["slowest"]] == [INJECTION, "delete project 5"]
    # 7d adds S2 and the event one second before the 24h boundary
    assert week["events"]["total"] == 17
    assert week["operations"]["CREATE"]["success_rate"] == 1.0
    assert week["errors"]["by_stage"]["validation"]["count"] == 1
    assert week["top_errors"][1]["example"] == HTML_ERROR
    # 30d adds S3; S4 is older, two events have no time
    assert month["events"]["total"] == 20
    assert month["sessions"]["count"] == 4
    assert data["older_events"] == 2
    assert data["untimed_events"] == 2
    assert data["newer_events"] == 0
    assert data["source"]["malformed_lines"] == 1
    assert data["empty"] is None


def test_series_slices_add_up_to_the_window(log):
    data = dashboard.build_data(log)
    for key, points, step in (("24h", 24, 1), ("7d", 28, 6), ("30d", 30, 24)):
        shown = view(data, key)
        series = shown["series"]
        assert shown["step_hours"] == step
        assert all(len(values) == points for values in series.values())
        assert sum(series["events"]) == shown["summary"]["events"]["total"]
        assert sum(series["errors"]) == shown["summary"]["errors"]["total"]
        assert sum(series["failed_executions"]) == shown["summary"]["execution"]["failed"]
        first = datetime.fromisoformat(series["start"][0].replace("Z", "+00:00"))
        assert first == NEWEST - timedelta(hours=points * step)
    day = view(data, "24h")["series"]
    # the boundary event opens the first hour; S1's turns are in the last two (the newest in the last)
    assert day["events"][0] == 1 and day["events"][22] == 3 and day["events"][23] == 6
    assert day["nl_p50"][22] == 100.0 and day["nl_p50"][23] == 250.0 and day["nl_p50"][0] is None
    assert day["errors"][23] == 1 and day["failed_executions"][23] == 1


def test_series_slice_is_stats_of_its_hours(log):
    """A slice of the 7d chart is the Stats of its 6 hours: the same as Selection over it, minus later events."""
    data = dashboard.build_data(log)
    week = view(data, "7d")["series"]
    index = week["start"].index((NEWEST - timedelta(hours=54)).isoformat().replace("+00:00", "Z"))
    slice_stats = Stats()
    slice_stats.add_many([e for e in fixture_events() if isinstance(e, dict) and at(54) <= e.get("ts", "") < at(48)])
    summary = slice_stats.summary(0)
    assert week["events"][index] == summary["events"]["total"] == 6
    assert week["nl_p95"][index] == summary["latency_ms"]["nl"]["p95"]


def test_since_filters_before_the_views(log):
    since = NEWEST - timedelta(hours=50, seconds=30)
    data = dashboard.build_data(log, since=since)
    assert data["filter"]["since"] == "2026-03-08T09:59:30Z"
    for key, hours in (("24h", 24), ("7d", 168), ("30d", 720)):
        same_summary(view(data, key)["summary"], expected_window(log, hours, since=since).summary(10))
    assert view(data, "30d")["summary"]["events"]["total"] == 17


def test_parallel_read_gives_the_same_figures(tmp_path):
    """Timeline.merge(): two parts of the log give what one pass gives."""
    events = [e for e in fixture_events() if isinstance(e, dict)]
    whole = Timeline(NEWEST, 720)
    whole.add_many(events)
    for cut in range(1, len(events)):
        first, second = Timeline(NEWEST, 720), Timeline(NEWEST, 720, partial=True)
        first.add_many(events[:cut])
        second.add_many(events[cut:])
        merged = first.merge(second)
        spans = [(24, 1), (168, 6), (720, 24)]
        got = merged.views(spans, lambda s: s.summary(), lambda s: s.summary(0)["events"]["total"])
        want = Timeline(NEWEST, 720)
        want.add_many(events)
        expected = want.views(spans, lambda s: s.summary(), lambda s: s.summary(0)["events"]["total"])
        for a, b in zip(got, expected):
            assert a["series"] == b["series"]
            same_summary(a["window"], b["window"])


def test_timeline_boundaries_and_time_forms():
    end = datetime(2026, 1, 2, 0, 0, 30, 250000, tzinfo=timezone.utc)  # fraction dropped: to the second
    timeline = Timeline(end, 2)
    forms = [
        "2026-01-01T22:00:30Z",         # start of hour 0
        "2026-01-01T22:00:29.999Z",     # one (part of a) second earlier: older
        "2026-01-01T23:00:29+00:00",    # still hour 0
        "2026-01-02T01:00:30+01:00",    # = 00:00:30 UTC: the end, in the last hour
        "2026-01-02T00:00:30.9Z",       # the end, to the second
        "2026-01-02T00:00:31Z",         # newer than the end
        "2026-01-01T23:30:00-00:30",    # = 2026-01-02T00:00:00Z: hour 1
        "2026-13-45T99:00:00Z",         # unreadable
        None,
    ]
    timeline.add_many([{"type": "user_input", "ts": ts, "session": S1} for ts in forms])
    assert (timeline.older, timeline.newer, timeline.untimed) == (1, 1, 2)
    assert timeline.latest == "2026-01-02T00:00:31"
    assert {k: stats.events for k, stats in timeline.buckets.items()} == {0: 2, 1: 3}


def test_timeline_batches_within_one_hour_take_a_shortcut_to_the_same_place():
    events = [e for e in fixture_events() if isinstance(e, dict)]
    one_by_one, at_once = Timeline(NEWEST, 720), Timeline(NEWEST, 720)
    for e in events:
        one_by_one.add(e)  # a batch of one: always the shortcut, when its ts is a UTC stamp
    at_once.add_many(events)  # hours mixed: event by event
    for timeline in (one_by_one, at_once):
        assert (timeline.older, timeline.newer, timeline.untimed) == (2, 0, 2)
    assert {k: b.summary() for k, b in one_by_one.buckets.items()} == \
        {k: b.summary() for k, b in at_once.buckets.items()}
    timeline = Timeline(NEWEST, 720)
    batch = [{"ts": ts} for ts in (at(2), at(1.5), at(2, -100).replace("Z", "+00:00"))]
    assert timeline._one_hour(batch) == 718
    assert timeline._one_hour([{"ts": at(2)}, {"ts": at(1)}]) is None  # two hours
    assert timeline._one_hour([{"ts": at(900)}, {"ts": at(800)}]) < 0  # all older
    assert timeline._one_hour([{"ts": at(0)}]) is None  # the end itself: event by event
    assert timeline._one_hour([{"ts": at(2)}, {"ts": "2026-03-10T10:30:00+01:00"}]) is None
    assert timeline._one_hour([{"ts": at(2)}, {"ts": None}]) is None
    assert timeline._one_hour([{"ts": at(2)}, {"type": "user_input"}]) is None
    assert timeline._one_hour([{"ts": 5}, {"ts": 7}]) is None
    assert timeline._one_hour([]) is None
    timeline.add_many([{"type": "user_input", "ts": at(900)}, {"type": "user_input", "ts": at(800)}])
    assert timeline.older == 2 and not timeline.buckets


def test_views_reject_spans_that_do_not_nest():
    with pytest.raises(ValueError):
        Timeline(NEWEST, 48).views([(24, 1), (48, 5)], Stats.summary, Stats.summary)
    with pytest.raises(ValueError):
        Timeline(NEWEST, 24).views([(48, 1)], Stats.summary, Stats.summary)


def test_newest_event_far_back_in_the_log_is_found(tmp_path, monkeypatch):
    """The views end at the newest event even when it is not near the end of the file."""
    events = fixture_events()
    newest = events.pop()
    events.insert(3, newest)
    path = write_log(tmp_path / "production.jsonl", events)
    monkeypatch.setattr(dashboard, "TAIL_BYTES", 300)  # the estimate sees only the last lines
    assert dashboard.latest_ts(path) < NEWEST
    data = dashboard.build_data(path)
    assert data["newest"] == "2026-03-10T12:00:00Z"
    assert data["newer_events"] == 0
    same_summary(view(data, "24h")["summary"], expected_window(path, 24).summary(10))


def test_events_newer_than_the_start_are_counted_not_shown(tmp_path, monkeypatch):
    """An event dated after the moment the dashboard started reading (a live log): no second pass."""
    events = fixture_events()
    events.insert(3, event("user_input", S4, 9, "2099-01-01T00:00:00Z", input="from the future"))
    path = write_log(tmp_path / "production.jsonl", events)
    monkeypatch.setattr(dashboard, "TAIL_BYTES", 300)
    data = dashboard.build_data(path)
    assert data["newest"] == "2026-03-10T12:00:00Z"
    assert data["newer_events"] == 1
    assert view(data, "30d")["summary"]["events"]["total"] == 20


def test_rotated_files_are_read_in_order(tmp_path):
    events = [e for e in fixture_events() if isinstance(e, dict)]
    path = tmp_path / "production.jsonl"
    write_log(path.with_name("production.jsonl.2"), events[:8])
    write_log(path.with_name("production.jsonl.1"), events[8:16])
    write_log(path, [])  # just rotated: the newest file is empty
    data = dashboard.build_data(path)
    assert data["newest"] is not None and len(data["source"]["files"]) == 3
    cutoff = ev.parse_ts(data["newest"]) - timedelta(hours=24)
    same_summary(view(data, "24h")["summary"],
                 aggregate(path, selection=Selection(since=cutoff)).stats.summary(10))


# ---------------------------------------------------------------------------
# stats.py additions the dashboard uses


def test_confidence_histogram_bins():
    stats = Stats()
    for c in (0.0, 0.049, 0.05, 0.5, 0.999, 1.0, 1, 0, 1.5, -0.1, True, "0.5", None):
        stats.add({"type": "nl_result", "ts": at(), "session": S1, "confidence": c})
    bins = stats.confidence_histogram()
    assert len(bins) == CONFIDENCE_BINS
    assert bins[0] == {"low": 0.0, "high": 0.05, "count": 3}
    assert bins[1]["count"] == 1 and bins[10]["count"] == 1
    assert bins[-1] == {"low": 0.95, "high": 1.0, "count": 3}
    assert sum(b["count"] for b in bins) == 8
    other = Stats()
    other.add({"type": "nl_result", "ts": at(), "session": S2, "confidence": 0.51})
    assert stats.merge(other).confidence_histogram()[10]["count"] == 2


def test_sessions_with_most_failures_order():
    stats = Stats(top=2)
    for session, errors, failed in ((S1, 1, 2), (S2, 3, 0), (S3, 0, 0), (S4, 2, 1)):
        stats.add_many([event("error", session, i, at(), stage="execution") for i in range(errors)])
        stats.add_many([event("execution_result", session, i, at(), success=False) for i in range(failed)])
    stats.add(event("user_input", S3, 1, at(), input="fine"))
    rows = stats.sessions_with_most_failures()
    assert [(r["session"], r["errors"], r["failed_executions"]) for r in rows] == [(S2, 3, 0), (S4, 2, 1)]
    assert [r["session"] for r in stats.sessions_with_most_failures(10)] == [S2, S4, S1]
    assert rows[0]["events"] == 3 and rows[0]["first_ts"] == rows[0]["last_ts"] == at()


# ---------------------------------------------------------------------------
# The page


def page_parts(page: str) -> tuple[dict[str, Any], list[str], list[tuple[str, dict[str, str | None]]]]:
    """(the embedded data, the texts of the other scripts, every start tag with its attributes)."""

    class Parser(html.parser.HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.tags: list[tuple[str, dict[str, str | None]]] = []
            self.scripts: list[tuple[dict[str, str | None], str]] = []
            self._script: dict[str, str | None] | None = None

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            self.tags.append((tag, dict(attrs)))
            if tag == "script":
                self._script = dict(attrs)
                self.scripts.append((self._script, ""))

        def handle_data(self, data: str) -> None:
            if self._script is not None:
                attrs, text = self.scripts[-1]
                self.scripts[-1] = (attrs, text + data)

        def handle_endtag(self, tag: str) -> None:
            if tag == "script":
                self._script = None

    parser = Parser()
    parser.feed(page)
    data = [json.loads(text) for attrs, text in parser.scripts if attrs.get("type") == "application/json"]
    code = [text for attrs, text in parser.scripts if attrs.get("type") != "application/json"]
    assert len(data) == 1
    return data[0], code, parser.tags


def test_page_embeds_the_data_as_inert_json(log):
    data = dashboard.build_data(log)
    page = dashboard.render_html(data)
    embedded, code, tags = page_parts(page)
    assert embedded == json.loads(json.dumps(data))
    assert [tag for tag, _ in tags].count("script") == 3  # data, Chart.js, the page's script
    assert len(code) == 2
    # the user's text is only ever inside the JSON, escaped
    assert INJECTION not in page and "<img" not in page
    assert "\\u003cscript\\u003ealert(1)\\u003c/script\\u003e" in page
    assert page.count("</script>") == 3


def test_script_json_cannot_close_its_element():
    hostile = {"a": "</script><script>alert(1)</script>", "b": "<!-- & -->", "c": "\u2028"}
    text = dashboard.script_json(hostile)
    assert "<" not in text and ">" not in text and "&" not in text
    assert json.loads(text) == hostile


def test_page_loads_nothing_and_its_scripts_are_the_only_ones_allowed(log):
    page = dashboard.render_html(dashboard.build_data(log))
    _, code, tags = page_parts(page)
    for tag, attrs in tags:
        assert not {"src", "href", "srcset", "action", "data", "poster"} & set(attrs), (tag, attrs)
    assert "<link" not in page and "<iframe" not in page
    csp = next(attrs["content"] for tag, attrs in tags if attrs.get("http-equiv") == "Content-Security-Policy")
    directives = dict(part.strip().split(" ", 1) for part in csp.split(";"))
    assert directives["default-src"] == "'none'"
    assert sorted(directives["script-src"].split()) == sorted(dashboard._sha256(text) for text in code)
    assert "unsafe" not in csp
    assert "sourceMappingURL" not in page


def test_page_size_is_reasonable(log):
    page = dashboard.render_html(dashboard.build_data(log))
    assert len(page.encode()) < 400_000


# ---------------------------------------------------------------------------
# The command line


def test_command_writes_the_page(log, tmp_path, capsys):
    out = tmp_path / "report" / "dash.html"
    out.parent.mkdir()
    assert main(["dashboard", str(log), "-o", str(out)]) == 0
    said = capsys.readouterr().out
    assert said.startswith(f"wrote {out} (") and "24h 10 events, 7d 17 events, 30d 20 events" in said
    embedded, _, _ = page_parts(out.read_text())
    assert embedded["newest"] == "2026-03-10T12:00:00Z"
    assert oct(out.stat().st_mode & 0o777) == oct(0o666 & ~_umask())
    assert [p.name for p in out.parent.iterdir()] == ["dash.html"]  # no temporary file left


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_command_defaults_and_config(log, tmp_path, monkeypatch, capsys):
    config = tmp_path / "app.yaml"
    config.write_text(f"monitoring:\n  production_logging:\n    path: {log}\n")
    monkeypatch.chdir(tmp_path)
    assert main(["dashboard", "--config", str(config), "--top", "1"]) == 0
    embedded, _, _ = page_parts((tmp_path / "dashboard.html").read_text())
    assert len(view(embedded, "7d")["summary"]["top_errors"]) == 1
    assert embedded["source"]["path"] == str(log)


def test_open_starts_the_browser(log, tmp_path, monkeypatch, capsys):
    opened = []
    monkeypatch.setattr(dashboard.webbrowser, "open", lambda url: opened.append(url) or True)
    out = tmp_path / "d.html"
    assert main(["dashboard", str(log), "-o", str(out), "--open"]) == 0
    assert opened == [out.resolve().as_uri()]
    monkeypatch.setattr(dashboard.webbrowser, "open", lambda url: False)
    assert main(["dashboard", str(log), "-o", str(out), "--open"]) == 0
    assert "could not start a web browser" in capsys.readouterr().err


def test_missing_log_is_exit_2(tmp_path, capsys):
    assert main(["dashboard", str(tmp_path / "nope.jsonl"), "-o", str(tmp_path / "d.html")]) == 2
    err = capsys.readouterr().err
    assert "nope.jsonl: no such log file" in err and "Traceback" not in err
    assert not (tmp_path / "d.html").exists()


@pytest.mark.parametrize("where", ["missing-dir", "a-directory", "under-a-file"])
def test_unwritable_output_is_exit_2_before_reading(log, tmp_path, capsys, where):
    target = {"missing-dir": tmp_path / "no" / "such" / "d.html",
              "a-directory": tmp_path,
              "under-a-file": log / "d.html"}[where]
    assert main(["dashboard", str(log), "-o", str(target)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"obra-monitor: -o {target}: ") and "Traceback" not in err


def test_read_only_directory_is_exit_2(log, tmp_path, capsys):
    locked = tmp_path / "locked"
    locked.mkdir()
    # Root ignores mode bits; the immutable attribute stops root too, where the filesystem has it.
    if subprocess.run(["chattr", "+i", str(locked)], capture_output=True).returncode != 0:
        pytest.skip("chattr +i is not available here")
    try:
        assert main(["dashboard", str(log), "-o", str(locked / "d.html")]) == 2
        assert "cannot write" in capsys.readouterr().err
    finally:
        subprocess.run(["chattr", "-i", str(locked)], check=True)


def test_empty_log_writes_a_page_that_says_so(tmp_path, capsys):
    log = write_log(tmp_path / "production.jsonl", [])
    out = tmp_path / "d.html"
    assert main(["dashboard", str(log), "-o", str(out)]) == 0
    assert "The log is empty." in capsys.readouterr().out
    embedded, _, _ = page_parts(out.read_text())
    assert embedded["empty"] == "The log is empty."
    assert embedded["newest"] is None
    assert all(v["summary"]["events"]["total"] == 0 for v in embedded["views"])


def test_log_without_times_or_since_after_everything_says_so(log, tmp_path):
    untimed = write_log(tmp_path / "untimed.jsonl", [{"type": "user_input", "session": S1, "input": "x"}])
    assert dashboard.build_data(untimed)["empty"] == "No event has a readable time (1 event without one)."
    data = dashboard.build_data(log, since=NEWEST + timedelta(days=1))
    assert data["empty"] == "No events since 2026-03-11T12:00:00Z."


def test_bad_since_is_exit_2(log, tmp_path, capsys):
    assert main(["dashboard", str(log), "--since", "last tuesday", "-o", str(tmp_path / "d.html")]) == 2
    assert "--since 'last tuesday'" in capsys.readouterr().err


def test_help_lists_the_command(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    assert re.search(r"dashboard\s+write an HTML dashboard", capsys.readouterr().out)
