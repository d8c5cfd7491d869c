"""The aggregator: figures computed by hand on a small log, odd input, merging."""

from __future__ import annotations

import math

import pytest

from obra_monitor import events as ev
from obra_monitor import stats as stats_module
from obra_monitor.stats import Stats, aggregate, normalize_message, percentile, percentiles
from tests.helpers_log import SESSION_A, SESSION_B, SESSION_OLD, event, fixture_events, write_log

U, N, X, E = (ev.EventType.USER_INPUT, ev.EventType.NL_RESULT, ev.EventType.EXECUTION_RESULT,
              ev.EventType.ERROR)


def summary_of(events, **kwargs):
    stats = Stats(**kwargs)
    stats.add_many(events)
    return stats.summary()


# -- percentiles -----------------------------------------------------------------


@pytest.mark.parametrize(("values", "p", "expected"), [
    ([1, 2, 3, 4], 50, 2.5),
    ([1, 2, 3, 4], 95, 3.85),          # index 2.85 -> 3 + 0.85 * 1
    ([15, 20, 35, 40, 50], 40, 29.0),  # index 1.6 -> 20 + 0.6 * 15
    ([15, 20, 35, 40, 50], 0, 15.0),
    ([15, 20, 35, 40, 50], 100, 50.0),
    ([7], 99, 7.0),
    ([500, 1000, 2000, 3000, 4000, 5000], 95, 4750.0),
])
def test_percentile_is_linear_interpolation_between_closest_ranks(values, p, expected):
    assert percentile(sorted(values), p) == pytest.approx(expected)


def test_percentile_of_nothing_is_none_and_bad_p_is_refused():
    assert percentile([], 50) is None
    with pytest.raises(ValueError):
        percentile([1.0], 101)


def test_percentiles_sorts_once():
    assert percentiles([4, 1, 3, 2], (50, 100)) == {50: 2.5, 100: 4.0}


# -- the fixture, by hand (tests/helpers_log.fixture_events documents it) ------------------


@pytest.fixture(scope="module")
def summary():
    return summary_of(fixture_events())


def test_counts_by_type_sessions_and_turns(summary):
    assert summary["events"]["total"] == 22
    assert summary["events"]["by_type"] == {"nl_result": 6, "user_input": 6, "execution_result": 5,
                                            "error": 3, "impl_response": 1, "orch_prompt": 1}
    assert summary["sessions"]["count"] == 3
    assert summary["sessions"]["with_failures"] == 2
    assert summary["turns"] == 6


def test_success_rate_by_operation_joins_turns_and_older_logs(summary):
    # A1 joined by turn (ok), A2 own field (failed), B1 joined (failed), OLD "delete" joined to the
    # session's latest nl_result (ok); OLD question has no operation: UNKNOWN.
    assert summary["operations"]["DELETE"] == {"total": 4, "succeeded": 2, "failed": 2, "success_rate": 0.5}
    assert summary["operations"]["UNKNOWN"] == {"total": 1, "succeeded": 1, "failed": 0, "success_rate": 1.0}
    assert set(summary["operations"]) == {"DELETE", "UNKNOWN"}
    assert summary["execution"]["success_rate"] == pytest.approx(0.6)


def test_confidence_by_intent_and_stage(summary):
    by_intent = summary["confidence"]["by_intent"]
    assert by_intent["COMMAND"] == {"count": 5, "mean": pytest.approx(0.76)}  # "command" folded in
    assert by_intent["QUESTION"] == {"count": 1, "mean": pytest.approx(0.7)}
    by_stage = summary["confidence"]["by_stage"]
    assert list(by_stage) == list(ev.NL_STAGES)
    assert by_stage["intent"]["mean"] == pytest.approx(0.8)
    assert by_stage["operation"]["mean"] == pytest.approx(0.95)
    assert by_stage["params"] == {"count": 2, "mean": pytest.approx(0.7)}


def test_validation_failure_rate(summary):
    assert summary["validation"] == {"passed": 5, "failed": 1, "failure_rate": pytest.approx(1 / 6)}


def test_latency_percentiles(summary):
    nl = summary["latency_ms"]["nl"]
    assert nl["count"] == 6
    assert (nl["p50"], nl["p95"], nl["p99"]) == (2500.0, 4750.0, pytest.approx(4950.0))
    assert nl["mean"] == pytest.approx(15500 / 6)
    execution = summary["latency_ms"]["execution"]
    assert (execution["min"], execution["p50"], execution["p95"], execution["max"]) == (700, 5000, 10000, 11000)
    assert summary["latency_ms"]["implementer"]["p99"] == 8000


def test_error_rate_by_stage_is_per_turn(summary):
    assert summary["errors"]["total"] == 3
    assert summary["errors"]["by_stage"] == {
        "execution": {"count": 2, "rate": pytest.approx(2 / 6)},
        "validation": {"count": 1, "rate": pytest.approx(1 / 6)},
    }


def test_top_failure_modes_group_variable_parts(summary):
    top = summary["top_errors"]
    assert (top[0]["error_type"], top[0]["stage"], top[0]["message"], top[0]["count"]) == (
        "EntityNotFoundError", "execution", "Project <n> not found", 2)
    # "latest" is by ts: A's turn 2 (19:56:47) was logged before B's turn 1 (19:56:46) ended.
    assert top[0]["last_session"] == SESSION_A and top[0]["last_turn"] == 2
    assert top[0]["example"] == "Project 12 not found"  # the earliest occurrence
    assert top[1]["message"] == "Project ID must be positive integer"
    failed = summary["failed_executions"]
    assert [(f["operation"], f["message"], f["count"]) for f in failed] == [("DELETE", "Project <n> not found", 2)]


def test_slowest_turns_carry_session_turn_and_input(summary):
    slowest = summary["slowest"]
    assert [row["duration_ms"] for row in slowest] == [11000, 6000, 5000, 3000, 700]
    assert slowest[0] == {"duration_ms": 11000.0, "session": SESSION_B, "turn": 1, "operation": "DELETE",
                          "input": "delete project 12", "success": False, "ts": "2026-12-04T19:56:46.000000Z"}
    assert slowest[1]["input"] == "remove task 3" and slowest[1]["turn"] is None
    assert slowest[4]["operation"] == "UNKNOWN" and slowest[4]["input"] == "what's up?"


def test_slowest_is_bounded_by_top():
    events = [event(X, turn=i, total_duration_ms=float(i), success=True) for i in range(1, 101)]
    slowest = summary_of(events, top=3)["slowest"]
    assert [row["duration_ms"] for row in slowest] == [100, 99, 98]


def test_time_range_and_recent_failures(summary):
    assert summary["time_range"] == {"first": "2026-12-04T19:00:00.000000+00:00",
                                     "last": "2026-12-04T19:57:04.000100Z"}
    recent = summary["recent_failures"]
    assert recent[0]["kind"] == "error" and recent[0]["stage"] == "validation"
    assert recent[0]["session"] == SESSION_A and recent[0]["turn"] == 3


# -- odd input ---------------------------------------------------------------------


def test_wrong_field_types_are_ignored_field_by_field():
    events = [
        event(N, session=None, confidence=True, duration_ms="1200", intent=["COMMAND"], operation={"x": 1},
              stages={"intent": "high", "operation": 0.5, "entity": None}, validation=3),
        event(N, session=12, turn="1", confidence=2.5, duration_ms=-3, stages=[0.1]),
        event(X, session=SESSION_A, turn=True, success="yes", total_duration_ms=None, operation=7,
              message={"text": "?"}),
        event(E, stage=["x"], error_type=5, error=None, recoverable="no"),
        event(U, input={"nested": "dict"}),
        {"type": "nl_result"},  # no envelope at all
        event("custom_metric", value=float("nan")),
    ]
    summary = summary_of(events)
    assert summary["events"]["total"] == 7
    assert summary["events"]["by_type"]["custom_metric"] == 1
    assert summary["sessions"]["count"] == 1
    assert summary["sessions"]["events_without_session"] == 3
    assert summary["latency_ms"]["nl"]["count"] == 0
    assert summary["confidence"]["by_intent"] == {"UNKNOWN": {"count": 3, "mean": None}}
    assert summary["confidence"]["by_stage"] == {"operation": {"count": 1, "mean": 0.5}}
    assert summary["operations"] == {"UNKNOWN": {"total": 1, "succeeded": 0, "failed": 0, "success_rate": None}}
    assert summary["errors"]["by_stage"] == {"UNKNOWN": {"count": 1, "rate": 1.0}}
    assert summary["top_errors"][0]["message"] is None


def test_execution_results_own_operation_wins_over_the_join():
    events = [event(N, operation="DELETE"), event(X, operation="update", success=True)]
    assert list(summary_of(events)["operations"]) == ["UPDATE"]


def test_execution_of_another_turn_does_not_join():
    events = [event(N, turn=1, operation="DELETE"), event(X, turn=2, success=True)]
    assert list(summary_of(events)["operations"]) == ["UNKNOWN"]


def test_failure_keys_are_bounded():
    events = [event(E, stage="execution", error_type=f"Error{i}x", error="boom") for i in range(30)]
    summary = summary_of(events, max_keys=10)
    assert len(summary["top_errors"]) == 10
    assert summary["other_failures"] == 20
    assert summary["errors"]["total"] == 30


def test_empty_summary_has_every_key_and_no_figures():
    summary = Stats().summary()
    assert summary["events"]["total"] == 0
    assert summary["latency_ms"]["nl"] == {"count": 0, "min": None, "mean": None, "p50": None, "p95": None,
                                           "p99": None, "max": None}
    assert summary["time_range"] == {"first": None, "last": None}
    assert summary["execution"]["success_rate"] is None


@pytest.mark.parametrize(("message", "normalized"), [
    ("Project 12 not found", "Project <n> not found"),
    ("Project 7 not found", "Project <n> not found"),
    ("Unknown story identifier 'auth refactor'", "Unknown story identifier <str>"),
    ('Session 3f2b8c1e-8d4a-4b7e-9c11-2a6f1e0d9b77 expired', "Session <uuid> expired"),
    ("Timed out after 23s waiting", "Timed out after <n>s waiting"),
    ("Timed out after 2.5 s", "Timed out after <n> s"),
    ("retry #3 of 5", "retry #<n> of <n>"),
    ("v2 API: error -1", "v2 API: error <n>"),
    ("commit deadbeefcafe1234 missing", "commit <hex> missing"),
    ("  spaced\n\tout  ", "spaced out"),
])
def test_normalize_message(message, normalized):
    assert normalize_message(message) == normalized


# -- merging: what the parallel reader and rolling windows rely on -----------------------


def _comparable(summary):
    """Summaries compared with float sums allowed to differ in the last bits."""
    def walk(value):
        if isinstance(value, float):
            return round(value, 9)
        if isinstance(value, dict):
            return {key: walk(item) for key, item in value.items()}
        if isinstance(value, list):
            return [walk(item) for item in value]
        return value
    result = walk(summary)
    result["recent_failures"] = sorted(map(repr, result["recent_failures"]))
    return result


@pytest.mark.parametrize("cut", range(0, 23))
def test_merging_two_parts_equals_one_pass(cut):
    events = fixture_events()
    whole = summary_of(events)
    first, second = Stats(), Stats(partial=True)
    first.add_many(events[:cut])
    second.add_many(events[cut:])
    assert _comparable(first.merge(second).summary()) == _comparable(whole)


def test_merging_three_parts_equals_one_pass():
    events = fixture_events()
    parts = [Stats(), Stats(partial=True), Stats(partial=True)]
    for part, chunk in zip(parts, (events[:5], events[5:12], events[12:])):
        part.add_many(chunk)
    merged = parts[1].merge(parts[2])
    total = parts[0].merge(merged)
    assert _comparable(total.summary()) == _comparable(summary_of(events))


def test_parallel_aggregate_equals_single_pass(tmp_path, monkeypatch):
    events = fixture_events() * 40
    path = write_log(tmp_path / "production.jsonl", events)
    single = aggregate(path, jobs=1)
    monkeypatch.setattr(stats_module, "MIN_PART_BYTES", 1)
    parallel = aggregate(path, jobs=4)
    expected, got = _comparable(single.stats.summary()), _comparable(parallel.stats.summary())
    # The fixture repeats its timestamps, so "the 10 most recent failures" is a tie here.
    del expected["recent_failures"], got["recent_failures"]
    assert got == expected
    assert single.stats.summary()["operations"]["DELETE"]["total"] == 4 * 40


def test_session_summary_for_a_sessions_panel():
    stats = Stats()
    stats.add_many(fixture_events())
    assert stats.session_summary(SESSION_A) == {
        "events": 10, "errors": 2, "failed_executions": 1,
        "first_ts": "2026-12-04T19:56:30.000000Z", "last_ts": "2026-12-04T19:57:04.000100Z",
        "turns": 3, "executions": 2, "succeeded": 1, "success_rate": 0.5}
    # Older loggers: turns are counted from user inputs all the same.
    assert stats.session_summary(SESSION_OLD)["turns"] == 2
    assert stats.session_summary(SESSION_B)["success_rate"] == 0.0
    assert stats.session_summary("nope") is None
    assert math.isclose(stats.summary()["latency_ms"]["nl"]["mean"], 15500 / 6)
    assert SESSION_OLD in stats.sessions


# -- live views: headline, sessions, rolling window ----------------------------------------


def test_headline_is_the_summary_s_figures():
    stats = Stats()
    stats.add_many(fixture_events())
    head, summary = stats.headline(), stats.summary()
    for key in ("latency_ms", "execution", "validation", "time_range", "turns"):
        assert head[key] == summary[key]
    assert head["events"] == summary["events"]["total"] == 22
    assert head["errors"] == {"total": 3, "rate": 0.5}
    assert stats.failed_executions == summary["execution"]["failed"] == 2
    assert stats.errors_not_recoverable == 0


def test_errors_not_recoverable_counts_false_and_missing_flags():
    stats = Stats()
    stats.add_many([event(E, recoverable=False), event(E), event(E, recoverable=True),
                    event(E, recoverable="no")])
    other = Stats(partial=True)
    other.add(event(E, recoverable=False))
    stats.merge(other)
    assert stats.errors == 5 and stats.errors_not_recoverable == 4


def test_session_ids_sorted_by_last_activity_errors_and_turns():
    stats = Stats()
    stats.add_many(fixture_events())
    assert stats.session_ids() == [SESSION_A, SESSION_B, SESSION_OLD]  # A's last event is the newest
    assert stats.session_ids("errors") == [SESSION_A, SESSION_B, SESSION_OLD]  # 2, 1, 0 errors
    assert stats.session_ids("turns") == [SESSION_A, SESSION_OLD, SESSION_B]  # 3, 2, 1 turns
    with pytest.raises(ValueError):
        stats.session_ids("size")


def test_session_counters_survive_merging():
    events = fixture_events()
    whole = Stats()
    whole.add_many(events)
    first, second = Stats(), Stats(partial=True)
    first.add_many(events[:9])
    second.add_many(events[9:])
    first.merge(second)
    for session in (SESSION_A, SESSION_B, SESSION_OLD):
        assert first.session_summary(session) == whole.session_summary(session)


def _at(second: int, kind=N, session=SESSION_A, **fields):
    """An event at 2026-12-04T10:00:00Z + `second` seconds."""
    minute, sec = divmod(second, 60)
    hour, minute = divmod(minute, 60)
    return event(kind, session, 1, f"2026-12-04T{10 + hour:02d}:{minute:02d}:{sec:02d}.500000Z", **fields)


def _last_seconds(events, newest: int, span: int):
    return [e for e in events if newest - span < _second(e) <= newest]


def _second(e) -> int:
    hh, mm, ss = e["ts"][11:19].split(":")
    return (int(hh) - 10) * 3600 + int(mm) * 60 + int(ss)


def _mixed(seconds):
    """A turn's worth of events at each second: input, nl (passed or failed), execution, error."""
    out = []
    for s in seconds:
        out += [_at(s, U, input="x"),
                _at(s, N, duration_ms=float(100 + (s * 37) % 900), validation="failed" if s % 7 == 0 else "passed"),
                _at(s, X, success=s % 5 != 0, total_duration_ms=float(1000 + (s * 53) % 4000)),
                _at(s, ev.EventType.IMPL_RESPONSE, success=True, duration_ms=float(s % 3) * 1000)]
        if s % 5 == 0:
            out.append(_at(s, E, stage="execution", error_type="Boom", error="x", recoverable=True))
    return out


def _headline_keys(figures):
    return {key: figures[key] for key in ("events", "turns", "latency_ms", "execution", "validation")}


def test_rolling_window_equals_stats_over_the_same_seconds():
    from obra_monitor.stats import RollingWindow

    events = _mixed(range(0, 900, 3))
    window = RollingWindow(300)
    for cut in range(0, len(events), 50):
        window.add_many(events[cut:cut + 50])
    stats = Stats()
    stats.add_many(_last_seconds(events, 897, 300))
    figures, head = window.figures(), stats.headline()
    assert _headline_keys(figures) == _headline_keys({**head, "events": head["events"]})
    assert figures["errors"]["total"] == head["errors"]["total"] and figures["errors"]["rate"] == head["errors"]["rate"]
    assert figures["approximate"] is False
    assert figures["covered"] == 300 and figures["end"] - figures["start"] == 299
    assert figures["events_per_minute"] == head["events"] / 5
    assert figures["errors"]["per_minute"] == head["errors"]["total"] / 5


def test_rolling_window_slides_as_newer_events_arrive():
    from obra_monitor.stats import RollingWindow

    window = RollingWindow(60)
    window.add_many([_at(s, N, duration_ms=1000.0) for s in range(0, 60)])
    assert window.figures()["latency_ms"]["nl"]["count"] == 60
    window.add_many([_at(s, N, duration_ms=5000.0) for s in range(60, 90)])
    nl = window.figures()["latency_ms"]["nl"]
    assert nl["count"] == 60 and nl["min"] == 1000.0 and nl["max"] == 5000.0  # seconds 30..89
    assert nl["p50"] == 3000.0
    assert window.add(_at(10, N, duration_ms=9.0)) == 1  # before the window: dropped, counted
    assert window.add(_at(45, N, duration_ms=9.0)) == 0  # late but inside: kept
    assert window.figures()["latency_ms"]["nl"]["min"] == 9.0
    window.add(_at(1000, U, input="x"))  # a jump: everything before slides out
    figures = window.figures()
    assert figures["events"] == 1 and figures["latency_ms"]["nl"]["count"] == 0
    assert figures["latency_ms"]["nl"]["p95"] is None


def test_rolling_window_reads_other_offsets_and_skips_unreadable_times():
    from obra_monitor.stats import RollingWindow

    window = RollingWindow(60)
    window.add_many([event(U, ts="2026-12-04T10:00:30.000000Z"), event(U, ts="2026-12-04T12:00:40+02:00"),
                     event(U, ts="yesterday"), event(U, ts=None)])
    assert window.figures()["events"] == 2 and window.untimed == 2
    assert window.figures()["covered"] == 11


def test_rolling_window_percentiles_past_the_exact_limit_are_within_one_percent():
    import random

    from obra_monitor.stats import RollingWindow

    rng = random.Random(4)
    events = [_at(s % 600, N, duration_ms=rng.lognormvariate(6.5, 0.8)) for s in range(6000)]
    exact, approximate = RollingWindow(600), RollingWindow(600, exact_limit=100)
    exact.add_many(events)
    approximate.add_many(events)
    truth, got = exact.figures()["latency_ms"]["nl"], approximate.figures()["latency_ms"]["nl"]
    assert approximate.figures()["approximate"] and not exact.figures()["approximate"]
    for key in ("p50", "p95", "p99"):
        assert got[key] == pytest.approx(truth[key], rel=0.01)
    for key in ("count", "min", "max"):
        assert got[key] == truth[key]
    assert got["mean"] == pytest.approx(truth["mean"], rel=1e-9)
    # Sliding keeps the histogram right: drop the first half of the window.
    more = [_at(600 + s % 300, N, duration_ms=rng.lognormvariate(7.5, 0.5)) for s in range(3000)]
    exact.add_many(more)
    approximate.add_many(more)
    truth, got = exact.figures()["latency_ms"]["nl"], approximate.figures()["latency_ms"]["nl"]
    assert got["count"] == truth["count"]
    for key in ("p50", "p95", "p99"):
        assert got[key] == pytest.approx(truth[key], rel=0.01)


def test_rolling_window_series_slices_the_window():
    from obra_monitor.stats import RollingWindow

    window = RollingWindow(60)
    window.add_many([_at(s, N, duration_ms=float(s)) for s in range(0, 60, 2)])
    series = window.series(6)
    assert [part["start"] - series[0]["start"] for part in series] == [0, 10, 20, 30, 40, 50]
    assert [part["events"] for part in series] == [5] * 6
    assert series[0]["nl_p95"] == percentile([0, 2, 4, 6, 8], 95)
    assert window.series(6) == series  # cached slices read the same
    window.add(_at(59, N, duration_ms=1000.0))
    assert window.series(6)[-1]["nl_p95"] == percentile([50, 52, 54, 56, 58, 1000], 95)
    assert RollingWindow(60).series(6) == []
