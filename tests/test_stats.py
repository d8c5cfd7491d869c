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
        "first_ts": "2026-12-04T19:56:30.000000Z", "last_ts": "2026-12-04T19:57:04.000100Z"}
    assert stats.session_summary("nope") is None
    assert math.isclose(stats.summary()["latency_ms"]["nl"]["mean"], 15500 / 6)
    assert SESSION_OLD in stats.sessions
