"""Aggregate events into the figures every view shows: one streaming aggregator.

`Stats` is fed event dicts (as `reader` parses them) one batch at a time with
`add_many()` (or `add()`), in log order, and answers at any moment with
`summary()`: counts by type, sessions, success rate by operation, confidence
by intent and NL stage, validation failure rate, latency percentiles, error
rate by stage, top failure modes, failed executions and the slowest turns.
`analyze`, `session`, the TUI and the dashboard all use it, so a figure is
computed in one place.

Memory is bounded: one float per duration (array('d')), a small state per
session (its id, counters and the current turn's input cut to
INPUT_KEEP characters), at most `max_keys` failure-mode keys, and bounded
heaps/deques for the slowest and the most recent failures; never the events.

Fields of the wrong type (a string duration, a null session, a bool
confidence) are ignored field by field; nothing here raises on odd input.

Joining. An execution_result counts towards the operation of its own
`operation` field when present; otherwise the operation of its turn's
nl_result (same session and turn), or, when either has no `turn` (older
loggers), the session's latest nl_result; otherwise it counts as UNKNOWN.

Merging. `a.merge(b)` adds `b` (which must come *after* `a` in the log) into
`a`. A `Stats(partial=True)` is one that may have a predecessor (a later chunk
of a file scanned in parallel, or a time bucket): execution_results whose
nl_result it has not seen are kept aside and joined during the merge. This
is what makes `aggregate()` parallel, and what a rolling window can reuse.

Live views. `headline()` is the part of summary() a live view refreshes (the
same code: summary() is built on it); `session_summary()` and `session_ids()`
feed a sessions panel; `RollingWindow` gives the headline figures of the last
N seconds of event time (the TUI's stats panel and alert rules), in memory
bounded by the window.
"""

from __future__ import annotations

import bisect
import heapq
import itertools
import math
import operator
import os
import re
from array import array
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from obra_monitor import events as ev
from obra_monitor.reader import EventScan, LogSet, Record

PERCENTILES = (50, 95, 99)
CONFIDENCE_BINS = 20  # confidence_histogram(): equal bins over 0..1
INPUT_KEEP = 200  # characters of a turn's input kept for the slowest-turns table
MESSAGE_KEEP = 300  # characters of an example failure message kept

# Session state slots (a list per session, for speed).
(_EVENTS, _ERRORS, _FAILED, _FIRST, _LAST, _IN_SEEN, _IN_TURN, _IN_TEXT, _NL_SEEN, _NL_TURN, _NL_OP,
 _INPUTS, _NLS, _EXECS, _OK) = range(15)


def percentile(sorted_values: Sequence[float], p: float) -> float | None:
    """The p-th percentile (0..100) of sorted values; None when there are none.

    Exact, with linear interpolation between the closest ranks: the same
    definition (and the same arithmetic) as numpy.percentile's default
    method='linear'.
    """
    n = len(sorted_values)
    if n == 0:
        return None
    if not 0 <= p <= 100:
        raise ValueError(f"percentile must be within 0..100, got {p}")
    index = (n - 1) * (p / 100)
    low = math.floor(index)
    gamma = index - low
    a = float(sorted_values[low])
    if low + 1 >= n:
        return a
    b = float(sorted_values[low + 1])
    diff = b - a
    if gamma >= 0.5:
        return b - diff * (1 - gamma)
    return a + diff * gamma


def percentiles(values: Iterable[float], ps: Sequence[float] = PERCENTILES) -> dict[float, float | None]:
    """Several percentiles of unsorted values (sorted once)."""
    ordered = sorted(values)
    return {p: percentile(ordered, p) for p in ps}


def latency_summary(values: Iterable[float], ps: Sequence[float] = PERCENTILES) -> dict[str, Any]:
    """count, min, mean, p50/p95/p99 and max of durations (ms); None figures when empty."""
    ordered = sorted(values)
    count = len(ordered)
    result: dict[str, Any] = {"count": count, "min": ordered[0] if count else None}
    result["mean"] = math.fsum(ordered) / count if count else None
    for p in ps:
        result[f"p{p:g}"] = percentile(ordered, p)
    result["max"] = ordered[-1] if count else None
    return result


_UUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
_VARIABLE = re.compile(
    rf"(?P<uuid>{_UUID})"
    r"|(?P<quoted>'[^']*'|\"[^\"]*\"|`[^`]*`)"
    r"|(?P<hex>\b0x[0-9a-fA-F]+\b|\b(?=[0-9a-fA-F]*\d)[0-9a-fA-F]{12,}\b)"
    r"|(?P<number>(?<![\w.])-?\d+(?:\.\d+)?(?![\d.]))"
)
_PLACEHOLDER = {"uuid": "<uuid>", "quoted": "<str>", "hex": "<hex>", "number": "<n>"}
_SPACES = re.compile(r"\s+")


def normalize_message(text: str) -> str:
    """A message with its variable parts replaced, so that similar failures group.

    Numbers become <n>, UUIDs <uuid>, quoted strings <str>, long hex ids <hex>:
    "Project 12 not found" and "Project 7 not found" both give "Project <n> not found".
    """
    text = _VARIABLE.sub(lambda m: _PLACEHOLDER[m.lastgroup or "number"], text)
    return _SPACES.sub(" ", text).strip()[:MESSAGE_KEEP]


def _cached(function: Callable[[Any], Any], limit: int = 4096) -> Callable[[Any], Any]:
    cache: dict[Any, Any] = {}

    def lookup(value: Any) -> Any:
        try:
            return cache[value]
        except KeyError:
            result = function(value)
            if len(cache) < limit:
                cache[value] = result
            return result
        except TypeError:  # unhashable (a list or a dict where a string belongs)
            return None

    return lookup


def _text_or_none(function: Callable[[Any], str | None]) -> Callable[[Any], str | None]:
    return lambda value: function(value) if isinstance(value, str) else None


_norm_operation = _cached(_text_or_none(ev.normalize_operation))
_norm_intent = _cached(_text_or_none(ev.normalize_intent))  # raw keys are few: cached
_norm_message = _cached(lambda value: normalize_message(value) if isinstance(value, str) else None)


def _clip(value: Any, limit: int = MESSAGE_KEEP) -> str | None:
    return value[:limit] if isinstance(value, str) else None


class Stats:
    """The streaming aggregator. Feed with add()/add_many(); read with summary().

    In the hot loop values are counted as they come (raw intent/operation
    strings, "delete" and "DELETE" apart); summary() normalizes and merges them.
    """

    def __init__(self, *, top: int = 10, partial: bool = False, max_keys: int = 5000,
                 recent: int = 10) -> None:
        self.top = top
        self.partial = partial
        self.max_keys = max_keys
        self.by_type: dict[str, int] = {}
        self.sessions: dict[str, list[Any]] = {}
        self.no_session = 0
        self.no_session_ts: list[str | None] = [None, None]  # first, last ts of those events
        self.user_inputs = 0
        self.nl_results = 0
        # raw intent -> [nl_results, confidence sum, confidences counted]
        self.intents: dict[str | None, list[Any]] = {}
        self.stage_confidence: dict[str, list[Any]] = {}  # stage -> [sum, count]
        self.confidence_bins = [0] * CONFIDENCE_BINS  # nl_result confidences, bin k: k/BINS <= c < (k+1)/BINS
        self.validation = [0, 0]  # passed, failed
        self.operations: dict[str | None, list[int]] = {}  # raw operation -> [total, succeeded, failed]
        self.nl_ms = array("d")
        self.exec_ms = array("d")
        self.impl_ms = array("d")
        self.impl = [0, 0]  # responses with a success flag, succeeded
        self.errors = 0
        self.errors_not_recoverable = 0  # error events whose `recoverable` is not true
        self.errors_by_stage: dict[str | None, int] = {}
        # (error_type, stage, normalized message) -> [count, example, example ts, session, turn, ts]
        self.error_modes: dict[tuple[Any, ...], list[Any]] = {}
        # (raw operation, normalized message) -> [count, example, example ts, session, turn, ts]
        self.exec_failures: dict[tuple[Any, ...], list[Any]] = {}
        self.other_modes = 0  # failures beyond max_keys distinct keys
        # min-heap of (duration, seq, session, turn, raw operation, input, success, ts, waiting bits)
        self.slowest: list[tuple[Any, ...]] = []
        self._seq = 0
        # (ts, session, turn, kind, stage or operation, error_type, message), newest last
        self.recent_failures: deque[tuple[Any, ...]] = deque(maxlen=recent)
        # partial mode: (session, turn, success, message, ts) of execution_results whose
        # nl_result may be in an earlier part; joined by merge()
        self.pending: list[tuple[Any, ...]] = []

    # -- feeding -----------------------------------------------------------------

    def add(self, event: dict[str, Any]) -> None:
        self.add_many((event,))

    def add_many(self, events: Iterable[dict[str, Any]]) -> None:  # noqa: C901 - the hot loop
        """Add events in log order. Everything is local here: this loop is the analysis cost."""
        TYPE, TS, SESSION, TURN = ev.TYPE, ev.TS, ev.SESSION, ev.TURN
        USER_INPUT, NL_RESULT = ev.EventType.USER_INPUT.value, ev.EventType.NL_RESULT.value
        EXECUTION_RESULT, ERROR = ev.EventType.EXECUTION_RESULT.value, ev.EventType.ERROR.value
        ORCH_PROMPT, IMPL_RESPONSE = ev.EventType.ORCH_PROMPT.value, ev.EventType.IMPL_RESPONSE.value
        INPUT, INTENT, CONFIDENCE, OPERATION = ev.INPUT, ev.INTENT, ev.CONFIDENCE, ev.OPERATION
        VALIDATION, DURATION_MS, STAGES, SUCCESS = ev.VALIDATION, ev.DURATION_MS, ev.STAGES, ev.SUCCESS
        MESSAGE, TOTAL_DURATION_MS = ev.MESSAGE, ev.TOTAL_DURATION_MS
        PASSED, FAILED = ev.VALIDATION_PASSED, ev.VALIDATION_FAILED
        float_, int_, str_, dict_ = float, int, str, dict
        sessions, intents, stage_conf, operations = (
            self.sessions, self.intents, self.stage_confidence, self.operations)
        exec_add = self.exec_ms.append
        stage_dicts: list[dict[str, Any]] = []
        nl_durations: list[Any] = []
        impl_durations: list[Any] = []
        slowest, top, partial, max_keys = self.slowest, self.top, self.partial, self.max_keys
        bins, nbins = self.confidence_bins, CONFIDENCE_BINS
        n_user = n_nl = n_exec = n_err = n_orch = n_impl = passed = failed = 0
        # One C call fetches several fields; a missing one (KeyError) falls back to .get().
        envelope = operator.itemgetter(TYPE, TS, SESSION)
        nl_fields = operator.itemgetter(INTENT, CONFIDENCE, VALIDATION, DURATION_MS)
        turn_operation = operator.itemgetter(TURN, OPERATION)
        exec_fields = operator.itemgetter(SUCCESS, TOTAL_DURATION_MS)
        turn_input = operator.itemgetter(TURN, INPUT)
        for e in events:
            try:
                t, ts, s = envelope(e)
            except KeyError:
                t, ts, s = e.get(TYPE), e.get(TS), e.get(SESSION)
            if ts.__class__ is not str_:
                ts = None
            if s.__class__ is str_:
                st = sessions.get(s)
                if st is None:
                    # events, errors, failed executions, first ts, last ts,
                    # input seen, input turn, input text, nl seen, nl turn, nl operation,
                    # user inputs, nl results, executions, succeeded executions
                    st = sessions[s] = [0, 0, 0, ts, ts, False, None, None, False, None, None, 0, 0, 0, 0]
                elif ts is not None and (st[4] is None or ts > st[4]):
                    st[4] = ts
                st[0] += 1
            else:
                st = s = None
                self._without_session(ts)

            if t == NL_RESULT:
                n_nl += 1
                try:
                    intent, c, v, d = nl_fields(e)
                except KeyError:
                    intent, c, v, d = e.get(INTENT), e.get(CONFIDENCE), e.get(VALIDATION), e.get(DURATION_MS)
                if intent.__class__ is not str_:
                    intent = None
                slot = intents.get(intent)
                if slot is None:
                    if len(intents) >= max_keys:
                        intent = None
                    slot = intents.setdefault(intent, [0, 0.0, 0])
                slot[0] += 1
                if (c.__class__ is float_ or c.__class__ is int_) and 0 <= c <= 1:
                    slot[1] += c
                    slot[2] += 1
                    bins[int(c * nbins) if c < 1 else nbins - 1] += 1
                stages = e.get(STAGES)
                if stages.__class__ is dict_:
                    stage_dicts.append(stages)  # summed per batch, below
                if v == PASSED:
                    passed += 1
                elif v == FAILED:
                    failed += 1
                nl_durations.append(d)  # checked per batch, below
                if st is not None:
                    try:
                        tn, op = turn_operation(e)
                    except KeyError:
                        tn, op = e.get(TURN), e.get(OPERATION)
                    st[8] = True
                    st[9] = tn if tn.__class__ is int_ else None
                    st[10] = op if op.__class__ is str_ and op else None
                    st[12] += 1

            elif t == EXECUTION_RESULT:
                n_exec += 1
                tn = e.get(TURN)
                if tn.__class__ is not int_:
                    tn = None
                op = e.get(OPERATION)
                waiting = False
                if op.__class__ is not str_ or not op:
                    op = None
                    if st is not None and st[8]:
                        if tn is None or st[9] is None or st[9] == tn:
                            op = st[10]
                    elif partial:
                        waiting = True
                try:
                    ok, d = exec_fields(e)
                except KeyError:
                    ok, d = e.get(SUCCESS), e.get(TOTAL_DURATION_MS)
                if ok is not True and ok is not False:
                    ok = None
                if (d.__class__ is float_ or d.__class__ is int_) and d >= 0:
                    exec_add(d)
                    if len(slowest) < top or d > slowest[0][0]:
                        self._slow(d, s, tn, op, ok, ts, st, waiting)
                if waiting:
                    self.pending.append((s, tn, ok, _clip(e.get(MESSAGE)), ts))
                else:
                    slot = operations.get(op)
                    if slot is None:
                        if len(operations) >= max_keys:
                            op = None
                        slot = operations.setdefault(op, [0, 0, 0])
                    slot[0] += 1
                    if ok is True:
                        slot[1] += 1
                    elif ok is False:
                        slot[2] += 1
                        self._execution_failed(op, e.get(MESSAGE), s, tn, ts)
                if st is not None:
                    st[13] += 1
                    if ok is True:
                        st[14] += 1
                    elif ok is False:
                        st[2] += 1

            elif t == USER_INPUT:
                n_user += 1
                if st is not None:
                    try:
                        tn, text = turn_input(e)
                    except KeyError:
                        tn, text = e.get(TURN), e.get(INPUT)
                    st[5] = True
                    st[6] = tn if tn.__class__ is int_ else None
                    st[7] = text[:INPUT_KEEP] if text.__class__ is str_ else None
                    st[11] += 1

            elif t == ORCH_PROMPT:
                n_orch += 1

            elif t == IMPL_RESPONSE:
                n_impl += 1
                impl_durations.append(e.get(DURATION_MS))
                ok = e.get(SUCCESS)
                if ok is True or ok is False:
                    self.impl[0] += 1
                    self.impl[1] += ok

            elif t == ERROR:
                n_err += 1
                self._error(e, s, ts, st)

            elif t.__class__ is str_:
                self.by_type[t] = self.by_type.get(t, 0) + 1

        if stage_dicts:
            _add_stages(stage_conf, stage_dicts)
        if nl_durations:
            _add_durations(self.nl_ms, nl_durations)
        if impl_durations:
            _add_durations(self.impl_ms, impl_durations)
        by_type = self.by_type
        for kind, n in ((USER_INPUT, n_user), (NL_RESULT, n_nl), (EXECUTION_RESULT, n_exec),
                        (ERROR, n_err), (ORCH_PROMPT, n_orch), (IMPL_RESPONSE, n_impl)):
            if n:
                by_type[kind] = by_type.get(kind, 0) + n
        self.user_inputs += n_user
        self.nl_results += n_nl
        self.errors += n_err
        self.validation[0] += passed
        self.validation[1] += failed

    def _without_session(self, ts: str | None) -> None:
        self.no_session += 1
        if ts is not None:
            first, last = self.no_session_ts
            if first is None or ts < first:
                self.no_session_ts[0] = ts
            if last is None or ts > last:
                self.no_session_ts[1] = ts

    def _slow(self, d: float, s: str | None, tn: int | None, op: str | None, ok: bool | None,
              ts: str | None, st: list[Any] | None, waiting: bool) -> None:
        text = None
        if st is not None and st[_IN_SEEN] and (tn is None or st[_IN_TURN] is None or st[_IN_TURN] == tn):
            text = st[_IN_TEXT]
        self._seq += 1
        # waiting: 1 = the operation, 2 = the input may be in an earlier part (see merge)
        item = (d, self._seq, s, tn, op, text, ok, ts, (1 if waiting else 0) | (2 if text is None else 0))
        if len(self.slowest) < self.top:
            heapq.heappush(self.slowest, item)
        else:
            heapq.heapreplace(self.slowest, item)

    def _error(self, e: dict[str, Any], s: str | None, ts: str | None, st: list[Any] | None) -> None:
        stage = e.get(ev.STAGE)
        if stage.__class__ is not str or not stage:
            stage = None
        self.errors_by_stage[stage] = self.errors_by_stage.get(stage, 0) + 1
        if e.get(ev.RECOVERABLE) is not True:
            self.errors_not_recoverable += 1
        error_type = e.get(ev.ERROR_TYPE)
        if error_type.__class__ is not str or not error_type:
            error_type = None
        turn = e.get(ev.TURN)
        if turn.__class__ is not int:
            turn = None
        message = e.get(ev.ERROR)
        self._failure(self.error_modes, (error_type, stage, _norm_message(message)), message, s, turn, ts)
        self.recent_failures.append((ts, s, turn, ev.EventType.ERROR.value, stage, error_type, _clip(message)))
        if st is not None:
            st[_ERRORS] += 1

    def _count_execution(self, op: str | None, ok: bool | None, message: Any,
                         session: str | None, turn: int | None, ts: str | None) -> None:
        slot = self.operations.setdefault(op, [0, 0, 0])
        slot[0] += 1
        if ok is True:
            slot[1] += 1
        elif ok is False:
            slot[2] += 1
            self._execution_failed(op, message, session, turn, ts)

    def _execution_failed(self, op: str | None, message: Any, session: str | None, turn: int | None,
                          ts: str | None) -> None:
        self._failure(self.exec_failures, (op, _norm_message(message)), message, session, turn, ts)
        self.recent_failures.append(
            (ts, session, turn, ev.EventType.EXECUTION_RESULT.value, op, None, _clip(message))
        )

    def _failure(self, table: dict[tuple[Any, ...], list[Any]], key: tuple[Any, ...], message: Any,
                 session: str | None, turn: int | None, ts: str | None) -> None:
        slot = table.get(key)
        if slot is None:
            if len(self.error_modes) + len(self.exec_failures) >= self.max_keys:
                self.other_modes += 1
                return
            # count, example message, its ts, latest session, turn, ts
            table[key] = [1, _clip(message), ts, session, turn, ts]
            return
        _fold_failure(slot, [1, _clip(message), ts, session, turn, ts])

    # -- merging -----------------------------------------------------------------

    def merge(self, later: Stats) -> Stats:
        """Add `later` (the events that follow this one's in the log) into self."""
        for session, turn, ok, message, ts in later.pending:
            st = self.sessions.get(session) if session is not None else None
            if st is not None and st[_NL_SEEN]:
                self._count_execution(_turn_operation(st, turn), ok, message, session, turn, ts)
            elif self.partial:
                self.pending.append((session, turn, ok, message, ts))
            else:
                self._count_execution(None, ok, message, session, turn, ts)
        slow = []
        for d, _seq, session, turn, op, text, ok, ts, waiting in later.slowest:
            st = self.sessions.get(session) if waiting and session is not None else None
            if st is not None:
                if waiting & 2 and st[_IN_SEEN] and _same_turn(st[_IN_TURN], turn):
                    text = st[_IN_TEXT]
                    waiting &= ~2
                if waiting & 1 and st[_NL_SEEN]:
                    op = _turn_operation(st, turn)
                    waiting &= ~1
            self._seq += 1
            slow.append((d, self._seq, session, turn, op, text, ok, ts, waiting if self.partial else 0))
        self.slowest = heapq.nlargest(self.top, self.slowest + slow)
        heapq.heapify(self.slowest)

        self.no_session += later.no_session
        for ts in later.no_session_ts:
            if ts is not None:
                self.no_session -= 1
                self._without_session(ts)
        self.user_inputs += later.user_inputs
        self.nl_results += later.nl_results
        self.errors += later.errors
        self.errors_not_recoverable += later.errors_not_recoverable
        self.other_modes += later.other_modes
        _add_counts(self.by_type, later.by_type)
        _add_counts(self.errors_by_stage, later.errors_by_stage)
        _add_lists(self.intents, later.intents)
        _add_lists(self.stage_confidence, later.stage_confidence)
        self.confidence_bins = [a + b for a, b in zip(self.confidence_bins, later.confidence_bins)]
        _add_lists(self.operations, later.operations)
        self.validation = [a + b for a, b in zip(self.validation, later.validation)]
        self.impl = [a + b for a, b in zip(self.impl, later.impl)]
        self.nl_ms.extend(later.nl_ms)
        self.exec_ms.extend(later.exec_ms)
        self.impl_ms.extend(later.impl_ms)
        for mine, theirs in ((self.error_modes, later.error_modes), (self.exec_failures, later.exec_failures)):
            for key, slot in theirs.items():
                have = mine.get(key)
                if have is None:
                    mine[key] = list(slot)
                else:
                    _fold_failure(have, slot)
        recent = sorted([*self.recent_failures, *later.recent_failures], key=_ts_key)
        self.recent_failures = deque(recent, maxlen=self.recent_failures.maxlen)
        for session, theirs in later.sessions.items():
            st = self.sessions.get(session)
            if st is None:
                self.sessions[session] = theirs
                continue
            for slot in (_EVENTS, _ERRORS, _FAILED, _INPUTS, _NLS, _EXECS, _OK):
                st[slot] += theirs[slot]
            if st[_FIRST] is None:
                st[_FIRST] = theirs[_FIRST]
            if theirs[_LAST] is not None and (st[_LAST] is None or theirs[_LAST] > st[_LAST]):
                st[_LAST] = theirs[_LAST]
            if theirs[_IN_SEEN]:
                st[_IN_SEEN:_IN_TEXT + 1] = theirs[_IN_SEEN:_IN_TEXT + 1]
            if theirs[_NL_SEEN]:
                st[_NL_SEEN:_NL_OP + 1] = theirs[_NL_SEEN:_NL_OP + 1]
        return self

    def sort_latencies(self) -> None:
        """Sort the duration arrays in place (summary() is then cheap; merged parts are sorted runs)."""
        for name in ("nl_ms", "exec_ms", "impl_ms"):
            setattr(self, name, array("d", sorted(getattr(self, name))))

    # -- reading -----------------------------------------------------------------

    @property
    def events(self) -> int:
        return sum(self.by_type.values())

    @property
    def executions(self) -> int:
        return sum(slot[0] for slot in self.operations.values()) + len(self.pending)

    @property
    def turns(self) -> int:
        """The denominator of error rates: user inputs, else NL results, else executions."""
        return self.user_inputs or self.nl_results or self.executions

    def time_range(self) -> tuple[str | None, str | None]:
        """Earliest and latest `ts` seen (as written; compared as text, UTC stamps)."""
        firsts = [st[_FIRST] for st in self.sessions.values() if st[_FIRST] is not None]
        lasts = [st[_LAST] for st in self.sessions.values() if st[_LAST] is not None]
        firsts += [ts for ts in self.no_session_ts if ts is not None]
        lasts += [ts for ts in self.no_session_ts if ts is not None]
        return (min(firsts) if firsts else None, max(lasts) if lasts else None)

    def session_summary(self, session: str) -> dict[str, Any] | None:
        """Counters of one session (for a sessions panel): events, errors, turns (its user
        inputs, else NL results, else executions: the `turns` rule), executions, succeeded and
        failed ones, their success rate, first ts seen and latest ts."""
        st = self.sessions.get(session)
        if st is None:
            return None
        ok, failed = st[_OK], st[_FAILED]
        return {"events": st[_EVENTS], "errors": st[_ERRORS], "failed_executions": st[_FAILED],
                "first_ts": st[_FIRST], "last_ts": st[_LAST],
                "turns": st[_INPUTS] or st[_NLS] or st[_EXECS], "executions": st[_EXECS],
                "succeeded": ok, "success_rate": ok / (ok + failed) if ok + failed else None}

    SESSION_ORDERS = ("last", "errors", "turns")

    def session_ids(self, order: str = "last") -> list[str]:
        """Every session id, most recently active first ("last": latest ts, as text), most
        errors first ("errors"; then most recent) or most turns first ("turns"; then most recent)."""
        sessions = self.sessions
        names = list(sessions)
        lasts = [st[_LAST] or "" for st in sessions.values()]
        if order == "last":
            keys: list[Any] = lasts
        elif order == "errors":
            keys = list(zip([st[_ERRORS] for st in sessions.values()], lasts))
        elif order == "turns":
            keys = list(zip([st[_INPUTS] or st[_NLS] or st[_EXECS] for st in sessions.values()], lasts))
        else:
            raise ValueError(f"unknown session order {order!r}; expected one of {self.SESSION_ORDERS}")
        ranks = sorted(range(len(names)), key=keys.__getitem__, reverse=True)
        return [names[i] for i in ranks]

    @property
    def failed_executions(self) -> int:
        """Execution results with success false (joined or not)."""
        return sum(slot[2] for slot in self.operation_counts().values())

    def headline(self) -> dict[str, Any]:
        """The figures a live view shows, as summary() computes them (the same code): events,
        turns, time_range, latency_ms, execution, validation, errors (total, rate)."""
        operations = self.operation_counts()
        executed = [sum(slot[i] for slot in operations.values()) for i in range(3)]
        turns = self.turns
        passed, failed = self.validation
        first, last = self.time_range()
        return {
            "events": self.events,
            "turns": turns,
            "time_range": {"first": first, "last": last},
            "latency_ms": {
                "nl": latency_summary(self.nl_ms),
                "execution": latency_summary(self.exec_ms),
                "implementer": latency_summary(self.impl_ms),
            },
            "execution": _rate(
                {"total": executed[0], "succeeded": executed[1], "failed": executed[2]},
                executed[1], executed[1] + executed[2],
            ),
            "validation": {"passed": passed, "failed": failed,
                           "failure_rate": failed / (passed + failed) if passed + failed else None},
            "errors": {"total": self.errors, "rate": self.errors / turns if turns else None},
        }

    def sessions_with_most_failures(self, n: int | None = None) -> list[dict[str, Any]]:
        """The `n` (default: top) sessions with the most errors plus failed executions, most
        first (ties: more errors, then by id); sessions with neither are left out."""
        n = self.top if n is None else n
        failing = ((s, st) for s, st in self.sessions.items() if st[_ERRORS] or st[_FAILED])
        worst = heapq.nsmallest(
            n, failing, key=lambda kv: (-kv[1][_ERRORS] - kv[1][_FAILED], -kv[1][_ERRORS], kv[0]))
        return [{"session": s, "errors": st[_ERRORS], "failed_executions": st[_FAILED], "events": st[_EVENTS],
                 "first_ts": st[_FIRST], "last_ts": st[_LAST]} for s, st in worst]

    def confidence_histogram(self) -> list[dict[str, Any]]:
        """nl_result confidences in CONFIDENCE_BINS equal bins: low <= c < high (the last holds 1.0 too)."""
        return [{"low": k / CONFIDENCE_BINS, "high": (k + 1) / CONFIDENCE_BINS, "count": n}
                for k, n in enumerate(self.confidence_bins)]

    def operation_counts(self) -> dict[str, list[int]]:
        """Normalized operation -> [total, succeeded, failed], unjoined ones under UNKNOWN."""
        result: dict[str, list[int]] = {}
        for raw, slot in self.operations.items():
            _add_into(result, _norm_operation(raw) or ev.UNKNOWN, slot)
        for _session, _turn, ok, _message, _ts in self.pending:
            _add_into(result, ev.UNKNOWN, [1, int(ok is True), int(ok is False)])
        return result

    def summary(self, top: int | None = None) -> dict[str, Any]:
        """Every figure, as plain JSON-ready data. Keys: docs/reference/analyze-json.md."""
        top = self.top if top is None else top
        head = self.headline()
        operations = self.operation_counts()
        turns = head["turns"]
        intents: dict[str, list[Any]] = {}
        for raw, slot in self.intents.items():
            _add_into(intents, _norm_intent(raw) or ev.UNKNOWN, slot)
        exec_failures: dict[tuple[Any, ...], list[Any]] = {}
        for (raw, message), slot in self.exec_failures.items():
            key = (_norm_operation(raw) or ev.UNKNOWN, message)
            have = exec_failures.get(key)
            if have is None:
                exec_failures[key] = list(slot)
            else:
                _fold_failure(have, slot)
        by_type = sorted(self.by_type.items(), key=lambda kv: (-kv[1], kv[0]))
        return {
            "events": {"total": head["events"], "by_type": dict(by_type)},
            "time_range": head["time_range"],
            "sessions": {
                "count": len(self.sessions),
                "with_failures": sum(1 for st in self.sessions.values() if st[_ERRORS] or st[_FAILED]),
                "events_without_session": self.no_session,
            },
            "turns": turns,
            "operations": {
                op: _rate({"total": total, "succeeded": ok, "failed": bad}, ok, ok + bad)
                for op, (total, ok, bad) in sorted(operations.items(), key=lambda kv: (-kv[1][0], kv[0]))
            },
            "execution": head["execution"],
            "validation": head["validation"],
            "confidence": {
                "by_intent": {
                    intent: {"count": n, "mean": total / scored if scored else None}
                    for intent, (n, total, scored) in sorted(intents.items(), key=lambda kv: (-kv[1][0], kv[0]))
                },
                "by_stage": {
                    stage: {"count": n, "mean": total / n if n else None}
                    for stage, (total, n) in _stage_order(self.stage_confidence)
                },
            },
            "latency_ms": head["latency_ms"],
            "implementer": {"responses": self.impl[0], "succeeded": self.impl[1],
                            "success_rate": self.impl[1] / self.impl[0] if self.impl[0] else None},
            "errors": {
                **head["errors"],
                "rate_denominator": "turns",
                "by_stage": {
                    stage or ev.UNKNOWN: {"count": n, "rate": n / turns if turns else None}
                    for stage, n in sorted(self.errors_by_stage.items(), key=lambda kv: (-kv[1], str(kv[0])))
                },
            },
            "top_errors": [
                {"error_type": etype, "stage": stage, "message": message, "count": slot[0],
                 "example": slot[1], "last_session": slot[3], "last_turn": slot[4], "last_ts": slot[5]}
                for (etype, stage, message), slot in _top(self.error_modes, top)
            ],
            "failed_executions": [
                {"operation": op, "message": message, "count": slot[0], "example": slot[1],
                 "last_session": slot[3], "last_turn": slot[4], "last_ts": slot[5]}
                for (op, message), slot in _top(exec_failures, top)
            ],
            "other_failures": self.other_modes,
            "slowest": [
                {"duration_ms": d, "session": session, "turn": turn,
                 "operation": _norm_operation(op) or ev.UNKNOWN, "input": text, "success": ok, "ts": ts}
                for d, _seq, session, turn, op, text, ok, ts, _waiting
                in sorted(self.slowest, key=lambda item: (-item[0], _ts_key(item[7:8])))[:top]
            ],
            "recent_failures": [
                {"ts": ts, "session": session, "turn": turn, "kind": kind,
                 "stage": stage if kind == ev.EventType.ERROR else None,
                 "operation": (_norm_operation(stage) or ev.UNKNOWN) if kind != ev.EventType.ERROR else None,
                 "error_type": etype, "message": message}
                for ts, session, turn, kind, stage, etype, message
                in sorted(self.recent_failures, key=_ts_key, reverse=True)
            ],
        }


_NUMBER_TYPES = frozenset((float, int))


def _add_durations(target: array, values: list[Any]) -> None:
    """Append the valid durations (numbers >= 0; not bools, strings, None) of a batch.

    The common case (all valid) is checked and copied by C code: no per-value bytecode.
    """
    if set(map(type, values)) <= _NUMBER_TYPES and min(values) >= 0:
        target.extend(values)
        return
    target.extend(v for v in values if v.__class__ in _NUMBER_TYPES and v >= 0)


def _add_stages(table: dict[str, list[Any]], stage_dicts: list[dict[str, Any]]) -> None:
    """Sum a batch of nl_result.stages dicts into stage -> [sum, count] (values within 0..1)."""
    for name in set().union(*stage_dicts):
        values = list(map(_getter(name), stage_dicts))
        if not (set(map(type, values)) <= _NUMBER_TYPES and min(values) >= 0 and max(values) <= 1):
            values = [v for v in values if v.__class__ in _NUMBER_TYPES and 0 <= v <= 1]
            if not values:
                continue
        slot = table.get(name)
        if slot is None:
            if len(table) >= 64:
                continue
            slot = table[name] = [0.0, 0]
        slot[0] += math.fsum(values)
        slot[1] += len(values)


def _getter(name: str) -> Callable[[dict[str, Any]], Any]:
    return operator.methodcaller("get", name)


def _ts_key(item: tuple[Any, ...]) -> str:
    """Sort key of a tuple whose first item is a ts (None first)."""
    return item[0] or ""


def _fold_failure(have: list[Any], slot: list[Any]) -> None:
    """Add a failure-mode slot into another: counts add, earliest example, latest occurrence."""
    have[0] += slot[0]
    if slot[2] is not None and (have[2] is None or slot[2] < have[2]):
        have[1:3] = slot[1:3]
    if slot[5] is None or have[5] is None or slot[5] >= have[5]:
        have[3:6] = slot[3:6]


def _same_turn(a: int | None, b: int | None) -> bool:
    return a is None or b is None or a == b


def _turn_operation(st: list[Any], turn: int | None) -> str | None:
    """The raw operation of the session's nl_result for this turn (or its latest, without turns)."""
    return st[_NL_OP] if _same_turn(st[_NL_TURN], turn) else None


def _add_into(table: dict[str, list[Any]], key: str, values: list[Any]) -> None:
    have = table.get(key)
    if have is None:
        table[key] = list(values)
    else:
        for i, value in enumerate(values):
            have[i] += value


def _rate(result: dict[str, Any], ok: int, decided: int) -> dict[str, Any]:
    result["success_rate"] = ok / decided if decided else None
    return result


def _stage_order(table: dict[str, list[float]]) -> list[tuple[str, list[float]]]:
    known = [(stage, table[stage]) for stage in ev.NL_STAGES if stage in table]
    return known + sorted((kv for kv in table.items() if kv[0] not in ev.NL_STAGES))


def _top(table: dict[tuple[Any, ...], list[Any]], n: int) -> list[tuple[tuple[Any, ...], list[Any]]]:
    return heapq.nsmallest(n, table.items(), key=lambda kv: (-kv[1][0], str(kv[0])))


def _add_counts(mine: dict[str, int], theirs: dict[str, int]) -> None:
    for key, n in theirs.items():
        mine[key] = mine.get(key, 0) + n


def _add_lists(mine: dict[str, list[Any]], theirs: dict[str, list[Any]]) -> None:
    for key, values in theirs.items():
        have = mine.get(key)
        if have is None:
            mine[key] = list(values)
        else:
            for i, value in enumerate(values):
                have[i] += value


# ---------------------------------------------------------------------------
# Hour by hour: the last N hours of a log and their time series (the dashboard's views)

_SECOND = "%Y-%m-%dT%H:%M:%S"
_UTC = ("Z", "+00:00")
_get_ts = operator.itemgetter(ev.TS)


class Timeline:
    """A Stats(partial=True) per hour of the `hours` hours up to `end`; fed like a Stats.

    Hour k (0 = the oldest) holds the events with start + k h <= ts < start + (k+1) h,
    the last one also the events at `end`, where start = end - hours h. Times compare
    to the second, as Selection does, so the last N hours of a timeline give the same
    figures as `Selection(since=end - N h)` over the same events. Events before start,
    after end, or without a readable ts are only counted (`older`; `newer` and the
    `latest` of them, to the second; `untimed`). `merge()` adds a later part of the log
    (parallel aggregation); `views()` reads the figures and consumes the timeline.
    """

    def __init__(self, end: datetime, hours: int, *, top: int = 10, partial: bool = False) -> None:
        if hours < 1:
            raise ValueError(f"hours must be 1 or more, got {hours}")
        if end.tzinfo is None:
            end = end.replace(tzinfo=timezone.utc)
        self.end = end.astimezone(timezone.utc).replace(microsecond=0)
        self.hours = hours
        self.top = top
        self.partial = partial  # unused: every hour is partial (aggregate() sets it)
        self.start = self.end - timedelta(hours=hours)
        self.buckets: dict[int, Stats] = {}
        self.older = 0
        self.newer = 0
        self.latest: str | None = None
        self.untimed = 0
        self._end_text = self.end.strftime(_SECOND)
        self._offset = self.start.strftime("%M:%S")  # every hour boundary's minutes and seconds
        self._first_hour = int(self.start.timestamp()) // 3600
        self._hour_of: dict[str, int | None] = {}  # "YYYY-MM-DDTHH" -> hours since the epoch

    def add(self, event: dict[str, Any]) -> None:
        self.add_many((event,))

    def add_many(self, events: Iterable[dict[str, Any]]) -> None:
        if events.__class__ is not list:
            events = list(events)
        whole = self._one_hour(events)  # a batch read from the log is usually all in one hour
        if whole is not None:
            if whole < 0:
                self.older += len(events)
                return
            bucket = self.buckets.get(whole)
            if bucket is None:
                bucket = self.buckets[whole] = Stats(top=self.top, partial=True)
            bucket.add_many(events)
            return
        TS, str_ = ev.TS, str
        hours, offset, first, hour_of = self.hours, self._offset, self._first_hour, self._hour_of
        groups: dict[int, list[dict[str, Any]]] = {}
        last_k, last_group = None, None
        for e in events:
            ts = e.get(TS)
            if ts.__class__ is str_ and len(ts) >= 19 and (ts[-1] == "Z" or ts.endswith("+00:00")):
                prefix = ts[:13]
                hour = hour_of.get(prefix, -1)
                if hour == -1:
                    hour = self._hour(prefix)
                if hour is None:
                    self.untimed += 1
                    continue
                k = hour - first - (ts[14:19] < offset)
                if k >= hours:
                    k = self._after(ts[:19])
                    if k is None:
                        continue
            else:
                k = self._index(ts)
                if k is None:
                    continue
            if k < 0:
                self.older += 1
                continue
            if k != last_k:
                last_group = groups.get(k)
                if last_group is None:
                    last_group = groups[k] = []
                last_k = k
            last_group.append(e)  # type: ignore[union-attr]
        for k, group in groups.items():
            bucket = self.buckets.get(k)
            if bucket is None:
                bucket = self.buckets[k] = Stats(top=self.top, partial=True)
            bucket.add_many(group)

    def _one_hour(self, events: list[dict[str, Any]]) -> int | None:
        """The hour index of all the events, found with C loops, when they all have UTC
        stamps in one hour before `end` (or all before start: a negative index); else None.

        Between the earliest and the latest stamp, compared as text, lie only stamps of
        the same hour (a malformed one there, which the per-event path would call
        unreadable, is counted in that hour)."""
        if not events:
            return None
        try:
            stamps = list(map(_get_ts, events))
            low, high = min(stamps), max(stamps)
            if not all(map(str.endswith, stamps, itertools.repeat(_UTC))):
                return None
        except (KeyError, TypeError):  # an event without ts, or a ts that is not a string
            return None
        if len(low) < 19 or len(high) < 19:
            return None
        ks = []
        for stamp in (low, high):
            hour = self._hour_of.get(stamp[:13], -1)
            if hour == -1:
                hour = self._hour(stamp[:13])
            if hour is None:
                return None
            ks.append(hour - self._first_hour - (stamp[14:19] < self._offset))
        if ks[0] != ks[1] and ks[1] >= 0:
            return None
        return ks[0] if ks[0] < self.hours else None

    def _hour(self, prefix: str) -> int | None:
        try:
            hour: int | None = int(datetime.fromisoformat(prefix + ":00:00+00:00").timestamp()) // 3600
        except ValueError:
            hour = None
        if len(self._hour_of) > 100_000:
            self._hour_of.clear()
        self._hour_of[prefix] = hour
        return hour

    def _after(self, second: str) -> int | None:
        """The index of an event past the last hour boundary: the last hour if it is `end`."""
        if second <= self._end_text:
            return self.hours - 1
        self.newer += 1
        if self.latest is None or second > self.latest:
            self.latest = second
        return None

    def _index(self, ts: Any) -> int | None:
        """The hour index of a ts in another form (an offset other than UTC), else None."""
        parsed = ev.parse_ts(ts) if ts.__class__ is str else None
        if parsed is None:
            self.untimed += 1
            return None
        parsed = parsed.replace(microsecond=0)
        k = int((parsed - self.start).total_seconds() // 3600)
        return self._after(parsed.strftime(_SECOND)) if k >= self.hours else k

    def sort_latencies(self) -> None:
        """Stats.sort_latencies() for every hour (aggregate() calls it in the workers)."""
        for bucket in self.buckets.values():
            bucket.sort_latencies()

    def merge(self, later: Timeline) -> Timeline:
        """Add `later` (the events that follow this one's in the log, same end and hours) into self."""
        if (later.end, later.hours) != (self.end, self.hours):
            raise ValueError("can only merge timelines of the same end and hours")
        for k, theirs in later.buckets.items():
            mine = self.buckets.get(k)
            if mine is None:
                self.buckets[k] = theirs
            else:
                mine.merge(theirs)
        self.older += later.older
        self.newer += later.newer
        self.untimed += later.untimed
        if later.latest is not None and (self.latest is None or later.latest > self.latest):
            self.latest = later.latest
        return self

    def views(self, spans: Sequence[tuple[int, int]], read_window: Callable[[Stats], Any],
              read_slice: Callable[[Stats], Any]) -> list[dict[str, Any]]:
        """The figures of the last `hours` for each (hours, step) in spans.

        For each span: {"hours", "step", "start", "window": read_window(the Stats of the
        last `hours`, finished like a whole log: what analyze --since would see),
        "series": [(slice start, read_slice(the Stats of that `step`-hour slice)), ...]}.
        Slices end at `end`; a slice without events reads as an empty Stats; a window with
        no more events than the shorter one is not read again (its result is the same). Spans are
        read shortest first; each step must divide the next and every span's hours, and
        the longest span fit the timeline. Stats are merged into each other as they are
        read: afterwards the timeline is empty.
        """
        spans = sorted(spans)
        steps = [step for _, step in spans]
        if steps != sorted(steps) or any(b % a for a, b in zip(steps, steps[1:])) \
                or any(hours % steps[-1] for hours, _ in spans) or spans[-1][0] > self.hours:
            raise ValueError(f"spans {spans} do not nest in a timeline of {self.hours} hours")
        end, groups, width = self.hours, self.buckets, 1
        self.buckets = {}
        results: list[dict[str, Any]] = []
        for hours, step in spans:
            if step != width:
                groups, width = _regroup(groups, end, step), step
            series = []
            for k in range(end - hours, end, step):
                stats = groups.get(k)
                series.append((self.start + timedelta(hours=k),
                               read_slice(stats if stats is not None else Stats(top=self.top))))
            results.append({"hours": hours, "step": step, "start": self.start + timedelta(hours=end - hours),
                            "series": series})
        # Each window: the groups it adds to the shorter one before it, then that one (later in the log).
        window: Stats | None = None
        read: Any = None
        newer_from = end
        for result in results:
            first = end - result["hours"]
            merged: Stats | None = None
            for k in range(first, newer_from, width):
                stats = groups.pop(k, None)
                if stats is not None:
                    merged = stats if merged is None else merged.merge(stats)
            if merged is not None or window is None:  # else: no more events, the same figures
                if window is not None:
                    merged = window if merged is None else merged.merge(window)
                window = merged if merged is not None else Stats(top=self.top, partial=True)
                read = read_window(Stats(top=self.top).merge(window))
            result["window"] = read
            newer_from = first
        return results


def _regroup(groups: dict[int, Stats], end: int, step: int) -> dict[int, Stats]:
    """Merge groups (keyed by first hour index) into `step`-hour groups ending at `end`, in order."""
    merged: dict[int, Stats] = {}
    for k in sorted(groups):
        start = end - -(-(end - k) // step) * step  # the slice start at or before k
        have = merged.get(start)
        merged[start] = groups[k] if have is None else have.merge(groups[k])
    return merged


# ---------------------------------------------------------------------------
# Whole-log aggregation (analyze, dashboard, the TUI's first load)


class Selection:
    """Which events count: since a time, and/or of sessions starting with a prefix."""

    def __init__(self, since: datetime | None = None, session: str | None = None) -> None:
        self.since = since
        self.session = session or None
        # Lexical compare for UTC stamps ("...Z" / "+00:00"); precise to the second.
        self._since_text = since.strftime("%Y-%m-%dT%H:%M:%S") if since else None

    @property
    def prefilter(self) -> bytes | None:
        return self.session.encode() if self.session else None

    def __bool__(self) -> bool:
        return self.since is not None or self.session is not None

    def apply(self, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if self.session is not None:
            prefix = self.session
            events = [e for e in events if isinstance(s := e.get(ev.SESSION), str) and s.startswith(prefix)]
        if self._since_text is not None:
            cutoff, since = self._since_text, self.since
            events = [e for e in events if _at_or_after(e.get(ev.TS), cutoff, since)]
        return events


def _at_or_after(ts: Any, cutoff: str, since: datetime | None) -> bool:
    if ts.__class__ is not str:
        return False
    if ts.endswith(("Z", "+00:00")) and len(ts) >= 19:
        return ts >= cutoff
    parsed = ev.parse_ts(ts)
    return parsed is not None and since is not None and parsed >= since


class Aggregate:
    """The result of aggregate(): the Stats plus what the reading saw."""

    def __init__(self, stats: Stats, files: list[Path], size: int, malformed: int,
                 samples: list[Record]) -> None:
        self.stats = stats
        self.files = files
        self.bytes = size
        self.malformed = malformed
        self.samples = samples


def aggregate(path: str | os.PathLike[str], *, selection: Selection | None = None, top: int = 10,
              jobs: int | None = None, progress: Callable[[int, int], None] | None = None,
              make: Callable[[bool], Any] | None = None) -> Aggregate:
    """Aggregate a whole log set (oldest file first), in parallel for big logs.

    `jobs`: worker processes (default: one per CPU for logs over PARALLEL_MIN bytes).
    `progress(done_bytes, total_bytes)` is called from this process as work advances.
    `make(partial)` builds the aggregator of each part (default: a Stats with `top`);
    anything with add_many() and merge(), like a Timeline, will do.
    """
    selection = selection or Selection()
    if make is None:
        def make(partial: bool) -> Stats:
            return Stats(top=top, partial=partial)
    with LogSet(path) as log_set:
        total = log_set.total_bytes
        if jobs is None:
            jobs = _cpu_count() if total >= PARALLEL_MIN else 1
        jobs = max(1, min(jobs, total // MIN_PART_BYTES or 1))
        runs = log_set.segments(jobs)
        files = [info.path for info in log_set.files]
        if jobs == 1:
            done = 0

            def report(n: int) -> None:
                nonlocal done
                done += n
                if progress is not None:
                    progress(done, total)

            stats, malformed, samples = _aggregate_run(runs[0], selection, make, False, report)
        else:
            stats, malformed, samples = _aggregate_parallel(runs, selection, make, total, progress)
    return Aggregate(stats, files, total, malformed, samples)


PARALLEL_MIN = 32 << 20  # logs smaller than this are read in this process by default
MIN_PART_BYTES = 4 << 20  # never split into parts smaller than this


def _cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def _aggregate_run(run: list[Any], selection: Selection, make: Callable[[bool], Any], partial: bool,
                   progress: Callable[[int], None] | None) -> tuple[Stats, int, list[Record]]:
    stats = make(partial)
    scan = EventScan(run, prefilter=selection.prefilter, progress=progress)
    add_many = stats.add_many
    if selection:
        apply = selection.apply
        for batch in scan:
            add_many(apply(batch))
    else:
        for batch in scan:
            add_many(batch)
    stats.sort_latencies()  # in the workers, in parallel: the final sort then only merges runs
    return stats, scan.malformed, scan.samples


def _aggregate_parallel(runs: list[list[Any]], selection: Selection, make: Callable[[bool], Any], total: int,
                        progress: Callable[[int, int], None] | None) -> tuple[Stats, int, list[Record]]:
    """The first run here, the others in forked workers (they inherit the open files)."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    context = multiprocessing.get_context("fork")
    counters = [context.Value("q", 0, lock=False) for _ in runs]

    def reporter(index: int) -> Callable[[int], None]:
        counter = counters[index]

        def report(n: int) -> None:
            counter.value += n
            if index == 0 and progress is not None:
                progress(sum(c.value for c in counters), total)

        return report

    global _WORKER_STATE
    _WORKER_STATE = (runs, selection, make, [reporter(i) for i in range(len(runs))])
    try:
        with ProcessPoolExecutor(max_workers=len(runs) - 1, mp_context=context) as pool:
            futures = [pool.submit(_worker, index) for index in range(1, len(runs))]
            first = _aggregate_run(runs[0], selection, make, False, reporter(0))
            results = [first] + [future.result() for future in futures]
    finally:
        _WORKER_STATE = None
    if progress is not None:
        progress(total, total)
    stats, malformed, samples = results[0]
    for later, bad, more in results[1:]:
        stats.merge(later)
        malformed += bad
        samples = (samples + more)[: EventScan.SAMPLES]
    stats.partial = False
    return stats, malformed, samples


_WORKER_STATE: Any = None


def _worker(index: int) -> tuple[Stats, int, list[Record]]:
    runs, selection, make, reporters = _WORKER_STATE
    return _aggregate_run(runs[index], selection, make, True, reporters[index])


# ---------------------------------------------------------------------------
# Rolling window: the last N seconds of event time (the TUI's live figures, alert rules)

EXACT_LIMIT = 50_000  # durations of a kind in a window above which its percentiles are approximated
RELATIVE_ACCURACY = 0.01  # of an approximated percentile
_GAMMA = (1 + RELATIVE_ACCURACY) / (1 - RELATIVE_ACCURACY)
_LOG_GAMMA = math.log(_GAMMA)
_ZERO_BUCKET = -(1 << 30)
# Slot (one second) layout: counters, then the durations of the second.
(_W_EVENTS, _W_INPUTS, _W_NLS, _W_EXECS, _W_OK, _W_FAILED, _W_ERRORS, _W_PASSED, _W_INVALID,
 _W_NL_MS, _W_EXEC_MS, _W_IMPL_MS) = range(12)
_W_COUNTERS = 9
_LATENCY_KINDS = (("nl", _W_NL_MS), ("execution", _W_EXEC_MS), ("implementer", _W_IMPL_MS))


def _bucket(value: float) -> int:
    """Log-scale histogram bucket k of a duration: gamma^(k-1) < value <= gamma^k."""
    return math.ceil(math.log(value) / _LOG_GAMMA) if value > 0 else _ZERO_BUCKET


def _bucket_value(k: int) -> float:
    """The value standing for bucket k: within RELATIVE_ACCURACY of every value in it."""
    return 0.0 if k == _ZERO_BUCKET else 2 * _GAMMA ** k / (_GAMMA + 1)


class _Ranks(Sequence[float]):
    """The values of a histogram as a sorted sequence (each within RELATIVE_ACCURACY of the
    true value of its rank), so that `percentile()` reads it like sorted durations."""

    def __init__(self, histogram: dict[int, int]) -> None:
        self.keys = sorted(k for k, n in histogram.items() if n > 0)
        self.ends = list(itertools.accumulate(histogram[k] for k in self.keys))

    def __len__(self) -> int:
        return self.ends[-1] if self.ends else 0

    def __getitem__(self, rank):  # type: ignore[no-untyped-def, override]
        if not 0 <= rank < len(self):
            raise IndexError(rank)
        return _bucket_value(self.keys[bisect.bisect_right(self.ends, rank)])


class RollingWindow:
    """Figures over the last `span` seconds of event time, ending at the newest event.

    Fed like a Stats (`add_many`), in any order: the window ends at the second of the
    newest `ts` seen and holds the events of the `span` seconds up to it, that is what
    `Selection(since=<newest second> - span + 1 s)` would keep (times to the second);
    older events are dropped as the newest advances. One slot per second keeps counters
    and the durations, so the cost is bounded by the window, not the log.

    `figures()` counts as `Stats.headline()` does: the same valid durations (numbers >= 0),
    success rate over executions with a success flag, errors per turn (user inputs, else
    NL results, else executions), validation failure rate; latencies with
    `latency_summary()`, exactly while the window holds at most `exact_limit` durations of
    a kind. Above that, the percentiles of that kind come from a log-scale histogram kept
    alongside, each within RELATIVE_ACCURACY (1%) of the exact figure, read by the same
    `percentile()` (count, min, mean and max stay exact).
    """

    def __init__(self, span: float = 300, *, exact_limit: int = EXACT_LIMIT) -> None:
        if span < 1:
            raise ValueError(f"span must be 1 second or more, got {span}")
        self.span = int(span)
        self.exact_limit = exact_limit
        self.newest: int | None = None  # epoch second of the newest event
        self.earliest: int | None = None  # epoch second of the oldest event seen (kept or not)
        self.untimed = 0
        self._slots: dict[int, list[Any]] = {}
        self._order: list[int] = []  # heap of slot seconds
        self._totals = [0] * _W_COUNTERS
        self._histograms: dict[int, dict[int, int]] = {_W_NL_MS: {}, _W_EXEC_MS: {}, _W_IMPL_MS: {}}
        self._counts = {_W_NL_MS: 0, _W_EXEC_MS: 0, _W_IMPL_MS: 0}
        self._minutes: dict[str, int | None] = {}  # "YYYY-MM-DDTHH:MM" -> epoch second
        self._slices: dict[tuple[int, int], tuple[int, float | None]] = {}

    # -- feeding ---------------------------------------------------------------------

    @property
    def start(self) -> int | None:
        """The first second in the window."""
        return None if self.newest is None else self.newest - self.span + 1

    def second_of(self, ts: Any) -> int | None:
        """The epoch second of a `ts` (None if unreadable); UTC stamps without parsing."""
        if ts.__class__ is not str:
            return None
        if len(ts) >= 19 and ts[16] == ":" and (ts[-1] == "Z" or ts.endswith("+00:00")):
            seconds = ts[17:19]
            if seconds.isdigit() and seconds.isascii():
                minute = self._minutes.get(ts[:16], -1)
                if minute == -1:
                    minute = self._minute(ts[:16])
                if minute is not None:
                    return minute + int(seconds)
        parsed = ev.parse_ts(ts)
        return None if parsed is None else math.floor(parsed.timestamp())

    def _minute(self, prefix: str) -> int | None:
        try:
            value: int | None = int(datetime.fromisoformat(prefix + ":00+00:00").timestamp())
        except ValueError:
            value = None
        if len(self._minutes) > 10_000:
            self._minutes.clear()
        self._minutes[prefix] = value
        return value

    def add(self, event: dict[str, Any]) -> int:
        return self.add_many((event,))

    def add_many(self, events: Iterable[dict[str, Any]]) -> int:
        """Add events; returns how many fell before the window (or had no readable ts)."""
        events = events if isinstance(events, list) else list(events)
        TS = ev.TS
        seconds = [self.second_of(e.get(TS)) for e in events]
        known = [s for s in seconds if s is not None]
        self.untimed += len(seconds) - len(known)
        if known:
            earliest = min(known)
            if self.earliest is None or earliest < self.earliest:
                self.earliest = earliest
            latest = max(known)
            if self.newest is None or latest > self.newest:
                self.newest = latest
                self._prune()
        start = self.start
        outside = len(seconds) - len(known)
        if start is None:
            return outside
        for event, second in zip(events, seconds):
            if second is None:
                continue
            if second < start:
                outside += 1
                continue
            self._add(event, second)
        return outside

    def _add(self, e: dict[str, Any], second: int) -> None:  # noqa: C901 - one branch per type
        slot = self._slots.get(second)
        if slot is None:
            slot = self._slots[second] = [0] * _W_COUNTERS + [array("d"), array("d"), array("d")]
            heapq.heappush(self._order, second)
        totals = self._totals
        slot[_W_EVENTS] += 1
        totals[_W_EVENTS] += 1
        kind = e.get(ev.TYPE)
        counter = duration = None
        target = -1
        if kind == ev.EventType.USER_INPUT:
            counter = _W_INPUTS
        elif kind == ev.EventType.NL_RESULT:
            counter, duration, target = _W_NLS, e.get(ev.DURATION_MS), _W_NL_MS
            validation = e.get(ev.VALIDATION)
            if validation == ev.VALIDATION_PASSED:
                slot[_W_PASSED] += 1
                totals[_W_PASSED] += 1
            elif validation == ev.VALIDATION_FAILED:
                slot[_W_INVALID] += 1
                totals[_W_INVALID] += 1
        elif kind == ev.EventType.EXECUTION_RESULT:
            counter, duration, target = _W_EXECS, e.get(ev.TOTAL_DURATION_MS), _W_EXEC_MS
            ok = e.get(ev.SUCCESS)
            if ok is True or ok is False:
                outcome = _W_OK if ok else _W_FAILED
                slot[outcome] += 1
                totals[outcome] += 1
        elif kind == ev.EventType.IMPL_RESPONSE:
            duration, target = e.get(ev.DURATION_MS), _W_IMPL_MS
        elif kind == ev.EventType.ERROR:
            counter = _W_ERRORS
        if counter is not None:
            slot[counter] += 1
            totals[counter] += 1
        if target >= 0 and duration.__class__ in _NUMBER_TYPES and duration >= 0:  # type: ignore[operator]
            slot[target].append(duration)
            histogram = self._histograms[target]
            k = _bucket(duration)  # type: ignore[arg-type]
            histogram[k] = histogram.get(k, 0) + 1
            self._counts[target] += 1

    def _prune(self) -> None:
        start = self.start
        assert start is not None
        order, slots, totals = self._order, self._slots, self._totals
        while order and order[0] < start:
            slot = slots.pop(heapq.heappop(order))
            for i in range(_W_COUNTERS):
                totals[i] -= slot[i]
            for target, histogram in self._histograms.items():
                values = slot[target]
                self._counts[target] -= len(values)
                for value in values:
                    k = _bucket(value)
                    n = histogram[k] - 1
                    if n:
                        histogram[k] = n
                    else:
                        del histogram[k]
        if len(self._slices) > 4096:
            self._slices.clear()

    # -- reading ---------------------------------------------------------------------

    @property
    def events(self) -> int:
        return self._totals[_W_EVENTS]

    def covered_seconds(self) -> int:
        """Seconds of the window that have events in or before them: the span, or less while
        the events seen so far began inside it."""
        if self.newest is None or self.earliest is None:
            return 0
        return self.newest - max(self.start or 0, self.earliest) + 1

    def latency(self, target: int) -> dict[str, Any]:
        count = self._counts[target]
        slots = [self._slots[second][target] for second in self._order]
        if count <= self.exact_limit:
            values = array("d")
            for part in slots:
                values.extend(part)
            return latency_summary(values)
        ranks = _Ranks(self._histograms[target])
        result: dict[str, Any] = {"count": count, "min": min(min(p) for p in slots if p)}
        result["mean"] = math.fsum(math.fsum(p) for p in slots) / count
        for p in PERCENTILES:
            result[f"p{p:g}"] = percentile(ranks, p)
        result["max"] = max(max(p) for p in slots if p)
        return result

    def figures(self) -> dict[str, Any]:
        """The window's figures: keys as Stats.headline(), plus span, start, end (epoch seconds),
        covered (seconds), approximate (whether any percentile is), errors.per_minute and
        events_per_minute (over the covered seconds, counted as at least a minute)."""
        totals = self._totals
        inputs, nls, execs = totals[_W_INPUTS], totals[_W_NLS], totals[_W_EXECS]
        turns = inputs or nls or execs
        ok, failed, passed, invalid = totals[_W_OK], totals[_W_FAILED], totals[_W_PASSED], totals[_W_INVALID]
        errors = totals[_W_ERRORS]
        minutes = max(self.covered_seconds() / 60, 1.0)
        return {
            "span": self.span, "start": self.start, "end": self.newest, "covered": self.covered_seconds(),
            "events": totals[_W_EVENTS],
            "events_per_minute": totals[_W_EVENTS] / minutes,
            "turns": turns,
            "latency_ms": {name: self.latency(target) for name, target in _LATENCY_KINDS},
            "approximate": any(n > self.exact_limit for n in self._counts.values()),
            "execution": _rate({"total": execs, "succeeded": ok, "failed": failed}, ok, ok + failed),
            "validation": {"passed": passed, "failed": invalid,
                           "failure_rate": invalid / (passed + invalid) if passed + invalid else None},
            "errors": {"total": errors, "rate": errors / turns if turns else None, "per_minute": errors / minutes},
        }

    def series(self, slices: int, kind: str = "nl", p: float = 95) -> list[dict[str, Any]]:
        """The window cut into `slices` equal slices of whole seconds, oldest first: for each,
        its first second, events and the p-th percentile of the `kind` durations (exact; None
        without any). A slice's percentile is kept until its events change."""
        if self.newest is None or slices < 1:
            return []
        step = max(1, self.span // slices)
        target = dict(_LATENCY_KINDS)[kind]
        result = []
        for k in range(slices):
            first = self.newest - (slices - k) * step + 1
            parts = [self._slots[s] for s in range(first, first + step) if s in self._slots]
            events = sum(part[_W_EVENTS] for part in parts)
            key = (first, step, target, p)  # type: ignore[assignment]
            cached = self._slices.get(key)  # type: ignore[arg-type]
            if cached is not None and cached[0] == events:
                value = cached[1]
            else:
                values = sorted(itertools.chain.from_iterable(part[target] for part in parts))
                value = percentile(values, p)
                self._slices[key] = (events, value)  # type: ignore[index]
            result.append({"start": first, "events": events, f"{kind}_p{p:g}": value})
        return result
