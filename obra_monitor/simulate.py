"""`obra-monitor demo`: simulated REPL sessions writing through the real ProductionLogger.

Each simulated session is a generator that behaves like a user at an
Obra-style REPL: it opens `logger.turn(session, text)`, yields the simulated
seconds the NL pipeline, the orchestrator or the implementer would take, then
calls `turn.nl_result(...)`, `turn.orch_prompt(...)`, `turn.execution_result(...)`
and friends, or raises the exception the host would have seen. One scheduler
resumes the sessions in simulated-time order, so sessions interleave exactly
as concurrent users do, and a seed fixes everything they write.

Two ways to run the same workload:

- live (`--rate N`, N > 0): events are written in real time, about N per
  second in all; simulated time is stretched or squeezed to reach that rate,
  so think times, bursts and quiet spells keep their shape. The logger stamps
  events with the wall clock.
- backfill (`--rate 0`): `--sessions` sessions spread over the last 30 days
  (busier on weekday working hours, with a few incidents where errors spike),
  written as fast as the logger goes; the logger is given a clock that reads
  simulated time, so a 24 h / 7 d / 30 d view has data.

Either way every line goes through `ProductionLogger`, so the file is what a
real host writes: redaction, truncation, turn numbers, rotation included.
"""

from __future__ import annotations

import argparse
import bisect
import heapq
import math
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from itertools import accumulate
from typing import Any, TypeVar

from obra_monitor.arguments import positive_int
from obra_monitor.config import SECTION, read_config_file, section_of, settings_from_mapping
from obra_monitor.errors import UsageError
from obra_monitor.events import Stage
from obra_monitor.example_repl import (
    ALL,
    EntityNotFoundError,
    EntityType,
    ObraError,
    OperationContext,
    OperationType,
    ParsedIntent,
    ValidationException,
)
from obra_monitor.logger import ProductionLogger, Turn

DEFAULT_PATH = "obra-demo.jsonl"
DEFAULT_RATE = 5.0
DEFAULT_LIVE_SESSIONS = 8
DEFAULT_BACKFILL_SESSIONS = 1000
BACKFILL_DAYS = 30
DAY = 86_400.0
T = TypeVar("T")


# -- what can go wrong, as the host's exception classes ------------------------------------------

class ParseError(ObraError):
    pass


class LLMTimeoutError(ObraError):
    pass


class LLMConnectionError(ObraError):
    recoverable = False


class DatabaseError(ObraError):
    recoverable = False


class TransactionRollbackError(ObraError):
    pass


class PermissionDeniedError(ObraError):
    pass


class ConflictError(ObraError):
    pass


class ImplementerTimeoutError(ObraError):
    pass


class ImplementerError(ObraError):
    pass


class RateLimitError(ObraError):
    pass


# -- vocabulary ----------------------------------------------------------------------------------

OPERATIONS = tuple(OperationType)
OPERATION_WEIGHTS = (0.27, 0.26, 0.11, 0.36)
ENTITIES = tuple(EntityType)
ENTITY_WEIGHTS = (0.14, 0.14, 0.18, 0.32, 0.13, 0.09)
PARENT = {EntityType.EPIC: EntityType.PROJECT, EntityType.STORY: EntityType.EPIC,
          EntityType.TASK: EntityType.STORY, EntityType.SUBTASK: EntityType.TASK,
          EntityType.MILESTONE: EntityType.PROJECT}
MAX_ID = {EntityType.PROJECT: 40, EntityType.EPIC: 320, EntityType.STORY: 1800,
          EntityType.TASK: 9000, EntityType.SUBTASK: 14000, EntityType.MILESTONE: 120}
TITLES = ("auth module", "billing v2", "onboarding flow", "search ranking", "dark mode",
          "mobile app", "data export", "rate limiter", "docs cleanup", "perf sprint", "SSO login",
          "audit log", "CI pipeline", "release 1.8", "webhooks", "retry policy", "cost dashboard",
          "nightly backups", "flaky tests", "payments API")
PEOPLE = ("alice", "bob", "chen", "dana", "emeka", "farah", "gus", "hana", "ivan", "jo")
DOMAINS = ("example.com", "acme.io", "corp.example.org", "mail.example.net")
STATUS_WORDS = ("done", "as done", "as in progress", "blocked", "as todo")
SLASH_COMMANDS = ("/help", "/status", "/history")
QUESTIONS = (
    ("what can you do?", "I manage projects, epics, stories, tasks, subtasks and milestones"),
    ("how do I create an epic?", "Say 'create epic <title> in project <id>'"),
    ("what's the difference between a story and a task?", "A story is user-facing; tasks deliver it"),
    ("why did task {n} fail?", "Task {n} failed its tests on the last implementer run"),
    ("which tasks are blocked in project {p}?", "3 tasks are blocked in project {p}"),
    ("how does obra pick an implementer?", "By the task's target in the project config"),
    ("can you explain milestone {m}?", "Milestone {m} groups the epics due for the next release"),
    ("what should I work on next?", "Task {n} is the oldest unblocked task in your sprint"),
    ("is story {s} ready for review?", "Story {s} has 2 open subtasks"),
)
GIBBERISH = ("delte projct {n}", "tsks", "asdf", "do the thing", "undo that", "make it faster",
             "fix everything in {n}", "same as before but for the other one", "?", "show me")
IMPLEMENTERS = ("claude-code", "claude-code", "claude-code", "codex-cli", "local-qwen")


@dataclass(frozen=True, slots=True)
class Tempo:
    """How busy the world is for a while: think times are scaled, errors made likelier."""

    until: float
    think: float
    errors: float


@dataclass(slots=True)
class Plan:
    """One turn, decided before it is typed (the text must be known to open the turn)."""

    text: str
    kind: str  # "command", "question", "gibberish", "typo"
    operation: OperationType | None = None
    entity: EntityType | None = None
    identifier: int | str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    outcome: str = "ok"  # ok, nl_error, validation, exec_failed, exec_crash, low_confidence
    implementer: bool = False
    retry: Plan | None = None  # what the user types next if this one fails and they try again


@dataclass(frozen=True, slots=True)
class Summary:
    events: int
    dropped: int
    sessions: int
    seconds: float
    seed: int
    stopped: str  # "finished", "duration", "interrupted"


# -- the workload --------------------------------------------------------------------------------

class Simulation:
    """Sessions, turns and events of a simulated user population, played into a logger."""

    def __init__(self, *, seed: int, sessions: int, end: datetime | None = None) -> None:
        """`end`: where backfilled history stops (default: now); live runs ignore it."""
        self.logger: ProductionLogger = None  # type: ignore[assignment]  # set by run_*
        self.seed = seed
        self.sessions = sessions
        self.now = 0.0  # simulated seconds from the start of the run (backfill: of the window)
        self.sessions_started = 0
        self.stop_requested = False
        # Backfill: simulated second 0 is this unix time. Everything the seed decides happens
        # in simulated time, so the same seed writes the same events whenever it is run.
        self._base = (end or datetime.now(timezone.utc)).timestamp() - BACKFILL_DAYS * DAY
        self._master = random.Random(seed)
        self._tempo_rng = random.Random(seed ^ 0x7E3F0)
        self._tempo: list[Tempo] = []
        self._tempo_ends: list[float] = []
        self._incidents: list[tuple[float, float]] = []
        self._last_turn_at = math.inf

    def clock(self) -> datetime:
        """The simulated time as the logger's clock (backfill mode)."""
        return datetime.fromtimestamp(self._base + self.now, timezone.utc)

    # -- backfill -------------------------------------------------------------------------

    def run_backfill(self, logger: ProductionLogger, *, deadline: float = math.inf,
                     progress: Callable[[int], None] | None = None) -> str:
        """Write every session as fast as `logger` goes; returns why it stopped.

        `logger` should stamp events with `self.clock` (its `clock=` argument).
        """
        self.logger = logger
        start, end = 0.0, BACKFILL_DAYS * DAY
        self._last_turn_at = end - 120.0
        rng = self._master
        self._incidents = sorted(
            (t, t + rng.uniform(3600, 3 * 3600))
            for t in (rng.uniform(start, end - 4 * 3600) for _ in range(3))
        )
        self._reset_tempo(start)
        starts = sorted((self._session_start(rng, start, end - 600.0), rng.getrandbits(64))
                        for _ in range(self.sessions))
        heap: list[tuple[float, int, Iterator[float]]] = []
        push, pop = heapq.heappush, heapq.heappop
        pending, total, order, steps = 0, len(starts), 0, 0
        while True:
            if pending < total and (not heap or starts[pending][0] <= heap[0][0]):
                at, session_seed = starts[pending]
                pending += 1
                session: Iterator[float] = self._session(random.Random(session_seed))
            elif heap:
                at, _, session = pop(heap)
            else:
                return "finished"
            self.now = at
            try:
                delay = next(session)
            except StopIteration:
                pass
            else:
                order += 1
                push(heap, (at + delay, order, session))
            steps += 1
            if not steps & 0x3FF:
                if self.stop_requested:
                    return "interrupted"
                if time.monotonic() >= deadline:
                    return "duration"
                if progress is not None:
                    progress(pending)

    def _session_start(self, rng: random.Random, lo: float, hi: float) -> float:
        """Busier on weekday working hours, and during incidents.

        The week is laid out relative to the window so that it does not depend on
        when the demo runs: the window ends on a Thursday at 16:00.
        """
        while True:
            t = rng.uniform(lo, hi)
            week_time = t + _WEEK_PHASE
            hour = int(week_time // 3600) % 24
            weekday = int(week_time // DAY) % 7  # 0 = Monday
            weight = _HOUR_WEIGHT[hour] * (0.35 if weekday >= 5 else 1.0)
            if self._in_incident(t):
                weight = min(1.0, weight * 2.5)
            if rng.random() < weight:
                return t

    def _in_incident(self, t: float) -> bool:
        return any(begin <= t < finish for begin, finish in self._incidents)

    # -- live ----------------------------------------------------------------------------

    def run_live(self, logger: ProductionLogger, rate: float, *, deadline: float = math.inf,
                 sleep: Callable[[float], None] = time.sleep) -> str:
        """`sessions` sessions at a time (each replaced when it ends), at about `rate` events/s."""
        self.logger = logger
        self._reset_tempo(0.0)
        heap: list[tuple[float, int, Iterator[float]]] = []
        for slot in range(self.sessions):
            heap.append((0.0, slot, self._slot(random.Random(self._master.getrandbits(64)))))
        heapq.heapify(heap)
        order = len(heap)
        # Simulated seconds per wall second; starts from a guess of ~0.2 events per session
        # per simulated second and follows what the workload actually does.
        speed = rate / (0.2 * self.sessions)
        sim_mark, wall_mark = 0.0, time.monotonic()
        written_before = self._events_handed()
        while True:
            at, _, session = heap[0]
            due = wall_mark + (at - sim_mark) / speed
            while True:
                if self.stop_requested:
                    return "interrupted"
                now = time.monotonic()
                if now >= deadline:
                    return "duration"
                if now >= due:
                    break
                sleep(min(due - now, deadline - now, 0.1))
            if now - due > 1.0:  # fell behind (a slow disk, a suspended laptop): do not catch up in a burst
                due = now
            sim_mark, wall_mark = at, due
            heapq.heappop(heap)
            self.now = at
            delay = next(session)  # slots never end
            order += 1
            heapq.heappush(heap, (at + delay, order, session))
            handed = self._events_handed() - written_before
            if handed >= 20 and at > 0:
                speed = min(1e6, max(1e-3, rate / (handed / at)))

    def _slot(self, rng: random.Random) -> Iterator[float]:
        """One seat at the REPL: a session, a pause, the next session, and so on."""
        yield rng.uniform(0.0, 4.0)
        while True:
            yield from self._session(random.Random(self._master.getrandbits(64)))
            yield _latency(rng, 6.0, 0.8, 0.5, 600.0) * self._tempo_at(self.now).think

    def _events_handed(self) -> int:
        """Events that reached the writer (the rate counts what lands in the log)."""
        stats = self.logger.stats
        return stats.events_written + stats.events_dropped

    # -- tempo: bursts, quiet spells, incidents --------------------------------------------

    def _reset_tempo(self, start: float) -> None:
        self._tempo, self._tempo_ends = [], []
        self._extend_tempo(start)

    def _extend_tempo(self, t: float) -> None:
        rng = self._tempo_rng
        last = self._tempo_ends[-1] if self._tempo_ends else t
        while last <= t:
            roll = rng.random()
            if roll < 0.62:
                think, errors, length = 1.0, 1.0, rng.expovariate(1 / 240)
            elif roll < 0.80:
                think, errors, length = 0.12, 1.0, rng.expovariate(1 / 60)   # burst
            elif roll < 0.94:
                think, errors, length = 5.0, 1.0, rng.expovariate(1 / 120)   # quiet spell
            else:
                think, errors, length = 0.7, 6.0, rng.expovariate(1 / 90)    # something is failing
            last += max(length, 5.0)
            self._tempo.append(Tempo(last, think, errors))
            self._tempo_ends.append(last)

    def _tempo_at(self, t: float) -> Tempo:
        if t >= self._tempo_ends[-1]:
            # Simulated time only moves forward: drop what is well behind, then look ahead.
            keep = bisect.bisect_right(self._tempo_ends, t - 7200.0)
            del self._tempo[:keep], self._tempo_ends[:keep]
            self._extend_tempo(t)
        tempo = self._tempo[bisect.bisect_right(self._tempo_ends, t)]
        if self._incidents and self._in_incident(t):
            return Tempo(tempo.until, tempo.think, max(tempo.errors, 8.0))
        return tempo

    # -- one session ----------------------------------------------------------------------

    def _session(self, r: random.Random) -> Iterator[float]:
        self.sessions_started += 1
        logger = self.logger
        session_id = str(uuid.UUID(int=r.getrandbits(128), version=4))
        turns = int(_latency(r, 5.8, 0.75, 1.0, 80.0))
        pace = _pick_pace(r)  # median think time, seconds
        retry: Plan | None = None
        for index in range(turns):
            if index:
                think = _latency(r, pace, 0.9, 0.05, 3600.0) * self._tempo_at(self.now).think
                yield think if retry is None else min(think, 20.0) * 0.5
            if self.now > self._last_turn_at:
                return
            errors = self._tempo_at(self.now).errors
            roll = r.random()
            if retry is None and roll < 0.10:
                logger.log_user_input(session_id, r.choice(SLASH_COMMANDS))
                continue
            plan = self._plan(r, errors, retry)
            retry = None
            try:
                with logger.turn(session_id, plan.text) as turn:
                    try:
                        yield from self._play(turn, plan, r)
                    except GeneratorExit:  # the run was stopped mid-turn: log nothing more
                        return
            except ObraError:
                pass  # the REPL prints it and prompts again; the turn logged it
            if plan.outcome != "ok" and plan.retry is not None and r.random() < 0.5:
                retry = plan.retry
        if r.random() < 0.45:
            yield _latency(r, 3.0, 0.7, 0.3, 60.0)
            logger.log_user_input(session_id, r.choice(("exit", "quit")))

    # -- deciding a turn --

    def _plan(self, r: random.Random, errors: float, retry: Plan | None) -> Plan:
        if retry is not None:  # the same command again, or the corrected one; it usually works now
            return replace(retry, outcome="ok" if r.random() < 0.85 else "exec_failed", retry=None)
        roll = r.random()
        if roll < 0.10:
            values = _numbers(r)
            question, answer = r.choice(QUESTIONS)
            return Plan(question.format(**values), "question", params={"answer": answer.format(**values)},
                        outcome="nl_error" if r.random() < 0.02 * errors else "ok")
        if roll < 0.135:
            text = r.choice(GIBBERISH).format(**_numbers(r))
            return Plan(text, "typo" if r.random() < 0.4 else "gibberish", outcome="not_understood")
        return self._command(r, errors)

    def _command(self, r: random.Random, errors: float) -> Plan:
        if r.random() < 0.03:
            plan = _sensitive_command(r)
        else:
            plan = Plan("", "command", _pick_operation(r), _pick_entity(r))
            _command_text(r, plan)
        nl_failure, invalid, unsure, failed, crashed = (0.03 * errors, 0.05, 0.04, 0.045 * errors,
                                                        0.005 * errors)
        roll = r.random()
        if roll < nl_failure:
            plan.outcome, plan.retry = "nl_error", plan
        elif (roll := roll - nl_failure) < invalid:
            plan.outcome = "validation"
            _make_invalid(r, plan)
        elif (roll := roll - invalid) < unsure:
            plan.outcome = "low_confidence"
        elif (roll := roll - unsure) < failed:
            plan.outcome, plan.retry = "exec_failed", plan
        elif roll - failed < crashed:
            plan.outcome = "exec_crash"
        return plan

    # -- playing a turn --

    def _play(self, turn: Turn, plan: Plan, r: random.Random) -> Iterator[float]:
        if plan.kind == "question":
            yield from self._question(turn, plan, r)
            return
        if plan.kind in ("gibberish", "typo"):
            yield from self._not_understood(turn, plan, r)
            return
        nl_ms = _latency(r, 750.0, 0.45, 150.0, 20_000.0)
        if plan.outcome == "nl_error":
            yield from self._nl_failure(turn, plan, r, nl_ms)
            return
        yield nl_ms / 1000.0
        low = plan.outcome in ("low_confidence", "validation")
        stages = _stage_confidences(r, low, plan.outcome == "validation")
        turn.nl_result(ParsedIntent(
            "COMMAND", OperationContext(plan.operation, plan.entity, plan.identifier, plan.params),
            plan.text, _overall(stages),
            {**{f"{name}_confidence": value for name, value in stages.items()},
             "validation_failed": plan.outcome == "validation"},
        ), duration_ms=nl_ms)
        elapsed = nl_ms
        if plan.outcome == "validation":
            yield r.uniform(0.001, 0.008)
            turn.error(ValidationException(plan.params["problem"]), stage=Stage.VALIDATION)
            return
        if plan.implementer:
            elapsed = yield from self._implementer(turn, plan, r, elapsed)
            if elapsed is None:
                return
        exec_ms = _execution_ms(r, plan)
        yield exec_ms / 1000.0
        elapsed += exec_ms
        if plan.outcome == "exec_crash":
            raise _crash(r, plan)
        if plan.outcome == "exec_failed":
            error = _execution_failure(r, plan)
            turn.error(error, context=_error_context(plan))
            turn.execution_result({"success": False, "message": str(error)}, duration_ms=elapsed)
            return
        turn.execution_result(_result(r, plan), duration_ms=elapsed)

    def _question(self, turn: Turn, plan: Plan, r: random.Random) -> Iterator[float]:
        nl_ms = _latency(r, 1400.0, 0.5, 300.0, 25_000.0)
        if plan.outcome == "nl_error":
            yield from self._nl_failure(turn, plan, r, nl_ms)
            return
        yield nl_ms / 1000.0
        confidence = round(min(0.99, 0.97 - r.expovariate(1 / 0.08)), 3)
        turn.nl_result(ParsedIntent("QUESTION", None, plan.text, max(0.4, confidence),
                                    {"intent_confidence": max(0.4, confidence)}), duration_ms=nl_ms)
        answer_ms = _latency(r, 1800.0, 0.6, 200.0, 30_000.0)
        yield answer_ms / 1000.0
        turn.execution_result({"success": True, "message": plan.params["answer"]}, duration_ms=nl_ms + answer_ms)

    def _not_understood(self, turn: Turn, plan: Plan, r: random.Random) -> Iterator[float]:
        nl_ms = _latency(r, 900.0, 0.5, 150.0, 20_000.0)
        yield nl_ms / 1000.0
        if plan.kind == "typo":
            turn.error(ParseError(f"Could not parse entity type from {plan.text!r}"))
            return
        stages = {"intent": round(r.uniform(0.2, 0.6), 2), "operation": round(r.uniform(0.05, 0.4), 2),
                  "entity": round(r.uniform(0.0, 0.3), 2), "params": round(r.uniform(0.0, 0.3), 2)}
        guess = r.choice((None, OperationType.QUERY, OperationType.UPDATE))
        context = OperationContext(guess, None) if guess else None
        turn.nl_result(ParsedIntent("COMMAND", context, plan.text, _overall(stages),
                                    {"stages": stages, "validation_failed": True}), duration_ms=nl_ms)

    def _nl_failure(self, turn: Turn, plan: Plan, r: random.Random, nl_ms: float) -> Iterator[float]:
        kind = r.choices(("timeout", "parse", "json", "connection"), (0.5, 0.25, 0.17, 0.08))[0]
        if kind == "timeout":
            yield 30.0 * r.choice((1, 1, 2, 3)) + r.uniform(0.0, 0.05)
            raise LLMTimeoutError(f"LLM request timed out after 30.0s (model qwen2.5-coder:32b, "
                                  f"attempt {r.randint(1, 3)}/3)")
        yield nl_ms / 1000.0
        if kind == "parse":
            turn.error(ParseError(f"Could not determine entity type from {plan.text!r}"))
        elif kind == "json":
            column = r.randint(20, 400)
            turn.error(ParseError(f"LLM returned invalid JSON: Expecting ',' delimiter: line 1 column "
                                  f"{column} (char {column - 1})"), context={"attempt": r.randint(1, 3)})
        else:
            raise LLMConnectionError(f"Connection refused: http://10.0.{r.randint(0, 9)}.{r.randint(2, 250)}"
                                     f":11434/api/generate")

    def _implementer(self, turn: Turn, plan: Plan, r: random.Random, elapsed: float) -> Iterator[float]:
        """Orchestrator -> implementer round trips; returns the elapsed ms, None if the turn ended."""
        task_id = plan.identifier
        item = f"{plan.entity.value if plan.entity else 'task'} {task_id}"
        target = r.choice(IMPLEMENTERS)
        turn.stage = Stage.IMPLEMENTER
        for attempt in range(1, 4):
            prep_ms = _latency(r, 60.0, 0.5, 5.0, 2000.0)
            yield prep_ms / 1000.0
            elapsed += prep_ms
            context_tokens = int(_latency(r, 9000.0, 0.7, 800.0, 190_000.0))
            turn.orch_prompt(task_id, target, int(context_tokens * r.uniform(0.12, 0.3) * 4), context_tokens)
            failure = r.random() < 0.14
            timeout = failure and r.random() < 0.3
            impl_ms = 120_000.0 if timeout else _latency(r, 9000.0, 0.75, 900.0, 110_000.0)
            yield impl_ms / 1000.0
            elapsed += impl_ms
            output = 0 if timeout else int(_latency(r, 2500.0, 0.8, 40.0, 200_000.0))
            turn.impl_response(task_id, not failure, impl_ms, output)
            if not failure:
                turn.stage = Stage.EXECUTION
                plan.params["attempts"] = attempt
                return elapsed
            if timeout and r.random() < 0.35:
                raise ImplementerTimeoutError(f"{target} did not respond within 120s ({item})")
            error: ObraError = (
                ImplementerTimeoutError(f"{target} did not respond within 120s ({item})") if timeout
                else r.choice((
                    ImplementerError(f"{target} exited with status 1 on {item}: tests failed "
                                     f"({r.randint(1, 9)} of {r.randint(20, 400)})"),
                    RateLimitError(f"429 Too Many Requests from {target} (retry after {r.choice((10, 30, 60))}s)"),
                ))
            )
            turn.error(error, context={"task_id": task_id, "attempt": attempt})
            if r.random() < 0.35:
                break
        turn.stage = Stage.EXECUTION
        plural = "s" if attempt > 1 else ""
        turn.execution_result({"success": False, "message": f"{item.capitalize()} failed after {attempt} "
                                                            f"implementer attempt{plural}"},
                              duration_ms=elapsed)
        return None


# -- text and numbers for one turn -------------------------------------------------------------

_WEEK_PHASE = DAY + 16 * 3600  # 30 days + this = 4 weeks + Thursday 16:00
_HOUR_WEIGHT = (0.10, 0.08, 0.06, 0.05, 0.05, 0.07, 0.15, 0.35, 0.65, 0.90, 0.95, 0.85,
                0.70, 0.90, 1.00, 1.00, 0.95, 0.85, 0.70, 0.55, 0.45, 0.35, 0.25, 0.15)


def _numbers(r: random.Random) -> dict[str, int]:
    """Ids for the {n} {p} {m} {s} placeholders of QUESTIONS and GIBBERISH."""
    return {"n": _id(r, EntityType.TASK), "p": _id(r, EntityType.PROJECT),
            "m": _id(r, EntityType.MILESTONE), "s": _id(r, EntityType.STORY)}


def _id(r: random.Random, entity: EntityType) -> int:
    return min(MAX_ID[entity], int(r.paretovariate(0.9)) * r.randint(1, 12))


def _range(r: random.Random, entity: EntityType) -> tuple[int, int]:
    first = _id(r, entity)
    return first, first + r.choice((4, 9, 14, 19, 49))


def _command_text(r: random.Random, plan: Plan) -> None:
    op, e = plan.operation, plan.entity
    assert op is not None and e is not None
    name, plural, parent = e.value, e.plural, PARENT.get(e)
    title = r.choice(TITLES)
    pid = _id(r, parent) if parent else None
    parent_phrase = f" in {parent.value} {pid}" if parent else ""
    if op is OperationType.CREATE:
        choices = [f"create {name} {title}", f"create a new {name} called {title}", f"new {name}: {title}"]
        if parent:
            choices += [f"create {name} for {title} in {parent.value} {pid}",
                        f"add {name} '{title}' to {parent.value} {pid}"]
        plan.text = r.choice(choices)
        plan.params = {"title": title, **({"parent_id": pid} if parent and str(pid) in plan.text else {})}
        return
    if op is OperationType.UPDATE:
        plan.identifier = number = _id(r, e)
        if e in (EntityType.TASK, EntityType.SUBTASK, EntityType.STORY) and r.random() < 0.3:
            plan.implementer = True
            plan.text = r.choice((f"implement {name} {number}", f"work on {name} {number}",
                                  f"execute {name} {number}", f"run {name} {number} again"))
            plan.params = {"action": "execute"}
            return
        choices = [(f"mark {name} {number} {r.choice(STATUS_WORDS)}", "status"),
                   (f"rename {name} {number} to {title}", "title"),
                   (f"assign {name} {number} to {r.choice(PEOPLE)}", "assignee"),
                   (f"set priority of {name} {number} to {r.choice(('high', 'low', 'urgent'))}", "priority")]
        if parent:
            choices.append((f"move {name} {number} to {parent.value} {pid}", "parent_id"))
        plan.text, changed = r.choice(choices)
        plan.params = {"change": changed}
        return
    if op is OperationType.DELETE:
        roll = r.random()
        if roll < 0.55:
            plan.identifier = number = _id(r, e)
            plan.text = r.choice((f"delete {name} {number}", f"remove {name} {number}"))
        elif roll < 0.8:
            first, last = _range(r, e)
            plan.identifier = f"{first}-{last}"
            plan.text = f"delete {plural} {first}-{last}"
        else:
            plan.identifier = ALL
            plan.text = f"delete all {plural}{parent_phrase if parent and r.random() < 0.6 else ''}"
        return
    roll = r.random()
    if roll < 0.3:
        plan.text = r.choice((f"show {plural}", f"list open {plural}", f"what {plural} are blocked"))
    elif roll < 0.55:
        first, last = _range(r, e)
        plan.identifier = f"{first}-{last}"
        plan.text = f"show {plural} {first}-{last}"
    elif roll < 0.8:
        plan.identifier = number = _id(r, e)
        plan.text = f"show {name} {number}"
    else:
        plan.text = (f"list {plural}{parent_phrase}" if parent
                     else f"how many {plural} are active")


def _sensitive_command(r: random.Random) -> Plan:
    """Inputs a user should not have typed: redaction turns these into [EMAIL], [API_KEY], ..."""
    email = f"{r.choice(PEOPLE)}.{r.choice(('doe', 'smith', 'okafor', 'li', 'novak'))}@{r.choice(DOMAINS)}"
    key = "".join(r.choice("abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789") for _ in range(36))
    aws = "".join(r.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") for _ in range(16))
    task, project, epic = _id(r, EntityType.TASK), _id(r, EntityType.PROJECT), _id(r, EntityType.EPIC)
    create, update = OperationType.CREATE, OperationType.UPDATE
    title, text, op, entity, identifier = r.choice((
        (f"email {email} about the rollout", None, create, EntityType.TASK, None),
        (None, f"assign task {task} to {email}", update, EntityType.TASK, task),
        (None, f"update project {project} api key to sk-proj-{key[:31]}7", update, EntityType.PROJECT, project),
        (f"rotate token ghp_{key[:35]}9", None, create, EntityType.STORY, None),
        (f"call +1 415 555 {r.randint(1000, 9999)} about invoice {task}", None, create, EntityType.TASK, None),
        (None, f"set deploy host of project {project} to 203.0.113.{r.randint(2, 250)}", update,
         EntityType.PROJECT, project),
        (f"use key AKIA{aws} for the s3 export", None, create, EntityType.SUBTASK, None),
    ))
    if op is OperationType.CREATE:
        where = f" to epic {epic}" if entity is EntityType.STORY else ""
        text = f"create {entity.value} {title}" if not where else f"add {entity.value} '{title}'{where}"
        params = {"title": title, **({"parent_id": epic} if where else {})}
    else:
        params = {"change": "settings"}
    return Plan(text, "command", op, entity, identifier, params)  # type: ignore[arg-type]


def _make_invalid(r: random.Random, plan: Plan) -> None:
    """Rewrite a command into one that fails validation; `retry` is the corrected command, if any."""
    e = plan.entity
    assert e is not None and plan.operation is not None
    name = e.value.capitalize()
    number = _id(r, e)
    kind = r.choices(("negative", "missing_title", "wrong_parent", "status", "in_use"),
                     (0.3, 0.2, 0.2, 0.15, 0.15))[0]
    if kind == "wrong_parent" and e not in PARENT:
        kind = "negative"
    corrected: Plan | None
    if kind == "negative":
        verb, op = r.choice((("delete", OperationType.DELETE), ("show", OperationType.QUERY),
                             ("mark", OperationType.UPDATE)))
        done = " done" if op is OperationType.UPDATE else ""
        corrected = Plan(f"{verb} {e.value} {number}{done}", "command", op, e, number,
                         {"change": "status"} if done else {})
        plan.text, plan.operation, plan.identifier = f"{verb} {e.value} -{number}{done}", op, -number
        plan.params = {"problem": f"{name} ID must be positive integer, got -{number}"}
    elif kind == "missing_title":
        corrected = replace(plan) if plan.operation is OperationType.CREATE else None
        plan.text, plan.operation, plan.identifier = f"create {e.value}", OperationType.CREATE, None
        plan.params = {"problem": f"Missing required parameter 'title' for CREATE {e.value}"}
    elif kind == "wrong_parent":
        parent = PARENT[e]
        other = _id(r, parent)
        corrected = None
        plan.text, plan.operation, plan.identifier = (f"move {e.value} {number} to {parent.value} {other}",
                                                      OperationType.UPDATE, number)
        plan.params = {"problem": f"{name} {number} cannot move to {parent.value} {other}: "
                                  f"{parent.value} {other} is in another project"}
    elif kind == "status":
        word = r.choice(("finished-ish", "waiting", "half done", "closed"))
        corrected = Plan(f"mark {e.value} {number} done", "command", OperationType.UPDATE, e, number,
                         {"change": "status"})
        plan.text, plan.operation, plan.identifier = (f"mark {e.value} {number} {word}",
                                                      OperationType.UPDATE, number)
        plan.params = {"problem": f"Unknown status {word!r} for {e.value} {number} "
                                  f"(expected todo, in_progress, blocked, done)"}
    else:
        corrected = Plan(f"delete {e.value} {number} and its items", "command", OperationType.DELETE, e,
                         number)
        plan.text, plan.operation, plan.identifier = f"delete {e.value} {number}", OperationType.DELETE, number
        plan.params = {"problem": f"Cannot delete {e.value} {number}: it has {r.randint(2, 40)} open items "
                                  f"(say 'delete {e.value} {number} and its items')"}
    plan.implementer = False
    plan.retry = corrected


def _latency(r: random.Random, median: float, sigma: float, low: float, high: float) -> float:
    """Log-normal around `median`, clipped to [low, high]."""
    return min(high, max(low, median * math.exp(sigma * r.gauss(0.0, 1.0))))


def _weighted(items: tuple[T, ...], weights: tuple[float, ...]) -> Callable[[random.Random], T]:
    """A cheaper `r.choices(items, weights)[0]`: one random() and a bisect."""
    cumulative = list(accumulate(weights))
    total = cumulative[-1]
    return lambda r: items[bisect.bisect(cumulative, r.random() * total)]


_pick_operation = _weighted(OPERATIONS, OPERATION_WEIGHTS)
_pick_entity = _weighted(ENTITIES, ENTITY_WEIGHTS)
_pick_pace = _weighted((0.35, 2.5, 9.0, 30.0), (0.05, 0.25, 0.5, 0.2))  # "scripted" to slow typists


def _execution_ms(r: random.Random, plan: Plan) -> float:
    op = plan.operation
    if op is OperationType.QUERY:
        return _latency(r, 45.0, 0.8, 3.0, 8000.0)
    if op is OperationType.DELETE and isinstance(plan.identifier, str):
        return _latency(r, 900.0, 0.8, 40.0, 15_000.0)
    if op is OperationType.CREATE:
        return _latency(r, 130.0, 0.6, 10.0, 9000.0)
    return _latency(r, 90.0, 0.6, 8.0, 9000.0)


def _stage_confidences(r: random.Random, low: bool, invalid: bool) -> dict[str, float]:
    spread = 6.0 if low else 1.0

    def stage(scale: float, floor: float = 0.05) -> float:
        return round(max(floor, min(1.0, 1.0 - r.expovariate(1.0 / (scale * spread)))), 2)

    stages = {"intent": stage(0.025), "operation": 1.0 if r.random() < 0.35 and not low else stage(0.035),
              "entity": stage(0.045), "params": stage(0.07)}
    if invalid:
        stages["params"] = round(r.uniform(0.2, 0.6), 2)
    return stages


def _overall(stages: dict[str, float]) -> float:
    weights = {"intent": 0.3, "operation": 0.25, "entity": 0.25, "params": 0.2}
    return round(sum(weights[name] * value for name, value in stages.items()), 3)


def _result(r: random.Random, plan: Plan) -> dict[str, Any]:
    e, op, identifier = plan.entity, plan.operation, plan.identifier
    assert e is not None
    if op is OperationType.CREATE:
        where = f" in {PARENT[e].value} {plan.params['parent_id']}" if "parent_id" in plan.params else ""
        title = plan.params.get("title", "")
        return {"success": True, "message": f"Created {e.value} #{MAX_ID[e] + r.randint(1, 500)} '{title}'{where}",
                "entities_affected": {e.plural: 1}}
    if op is OperationType.UPDATE:
        if plan.implementer:
            attempts = plan.params.get("attempts", 1)
            return {"success": True, "message": f"Implementer finished {e.value} {identifier} in {attempts} "
                                                f"attempt{'s' if attempts > 1 else ''}; "
                                                f"{r.randint(1, 14)} files changed, tests pass",
                    "entities_affected": {e.plural: 1}}
        change = plan.params.get("change", "status")
        return {"success": True, "message": f"Updated {change} of {e.value} {identifier}",
                "entities_affected": {e.plural: 1}}
    if op is OperationType.DELETE:
        if identifier == ALL:
            ids = sorted(r.sample(range(1, MAX_ID[e] + 1), min(MAX_ID[e], int(_latency(r, 12.0, 0.9, 1, 400)))))
        elif isinstance(identifier, str):
            first, last = (int(part) for part in identifier.split("-"))
            ids = [n for n in range(first, last + 1) if r.random() < 0.8] or [first]
        else:
            ids = [identifier]
        noun = e.value if len(ids) == 1 else e.plural
        return {"success": True, "message": f"Deleted {len(ids)} {noun}", "bulk_results": {e.plural: ids}}
    if isinstance(identifier, int):
        count = 1
    elif isinstance(identifier, str):
        first, last = (int(part) for part in identifier.split("-"))
        count = r.randint(0, last - first + 1)
    else:
        count = int(_latency(r, 14.0, 1.0, 0, 2000))
    return {"success": True, "message": f"Found {count} {e.value if count == 1 else e.plural}",
            "entities_affected": {e.plural: count}}


def _execution_failure(r: random.Random, plan: Plan) -> ObraError:
    """A failure the orchestrator reports (the REPL logs it and shows success: false)."""
    e, op = plan.entity, plan.operation
    assert e is not None
    roll = r.random()
    if roll < 0.72:
        if op is OperationType.CREATE:
            where = PARENT.get(e, EntityType.PROJECT)
            number = plan.params.get("parent_id") or _id(r, where)
        else:
            where = e
            number = plan.identifier if isinstance(plan.identifier, int) else _id(r, e)
        return EntityNotFoundError(f"{where.value.capitalize()} {number} not found")
    if roll < 0.9 and op is OperationType.DELETE:
        return TransactionRollbackError(
            f"Delete of {e.plural} {plan.identifier} rolled back: foreign key constraint on "
            f"epic {_id(r, EntityType.EPIC)}")
    if roll < 0.84:
        return ConflictError(f"{e.value.capitalize()} {plan.identifier} was changed by another session "
                             f"(version {r.randint(2, 30)} expected)")
    user = f"{r.choice(PEOPLE)}@{r.choice(DOMAINS)}"
    return PermissionDeniedError(f"User {user} has no write access to project {_id(r, EntityType.PROJECT)}")


def _error_context(plan: Plan) -> dict[str, Any]:
    context: dict[str, Any] = {"operation": plan.operation.name if plan.operation else None}
    if plan.identifier is not None:
        context["identifier"] = plan.identifier
    return context


def _crash(r: random.Random, plan: Plan) -> ObraError:
    if r.random() < 0.7:
        return DatabaseError(f"database is locked (StateManager.{plan.operation.value if plan.operation else 'get'}_"
                             f"{plan.entity.value if plan.entity else 'item'}, id {plan.identifier})")
    return DatabaseError("disk I/O error while committing transaction")


# -- `obra-monitor demo` -----------------------------------------------------------------------

def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="write a simulated workload of REPL sessions to a log, live or backfilled",
        description=(
            "Simulate users at an Obra-style REPL and log them through ProductionLogger: NL "
            "commands over every operation and entity, questions, slash commands, validation "
            "failures, errors at every stage, implementer calls, the odd e-mail address or API "
            "key (redacted), bursts and quiet spells. With --rate N > 0 events are written in "
            "real time, about N per second across --sessions concurrent sessions, until "
            "--duration or Ctrl-C. With --rate 0, --sessions sessions spread over the last "
            f"{BACKFILL_DAYS} days are written as fast as possible (a log for dashboards and "
            "benchmarks). The same --seed writes the same events."
        ),
    )
    parser.add_argument("--path", default=DEFAULT_PATH, metavar="LOG",
                        help=f"log to write (appended to; default: ./{DEFAULT_PATH})")
    parser.add_argument("--sessions", type=positive_int, metavar="N",
                        help=f"live: sessions open at once (default {DEFAULT_LIVE_SESSIONS}); "
                             f"--rate 0: sessions in all (default {DEFAULT_BACKFILL_SESSIONS})")
    parser.add_argument("--rate", type=_rate, default=DEFAULT_RATE, metavar="EVENTS_PER_S",
                        help=f"events per second in all (default {DEFAULT_RATE:g}); "
                             f"0 = as fast as possible, backfilled over {BACKFILL_DAYS} days")
    parser.add_argument("--duration", type=_positive_float, metavar="S",
                        help="stop after S seconds (default: live until Ctrl-C, --rate 0 until done)")
    parser.add_argument("--seed", type=int, metavar="S", help="random seed (default: a random one, printed)")
    parser.add_argument("--config", metavar="FILE",
                        help="take rotation, privacy and async settings from this app config; "
                             "the demo always logs, to --path, with implementer events on")
    parser.add_argument("--max-file-mb", type=_positive_float, metavar="MB",
                        help="rotate at this size (default: the config's, else 100)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    live = args.rate > 0
    sessions = args.sessions or (DEFAULT_LIVE_SESSIONS if live else DEFAULT_BACKFILL_SESSIONS)
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1_000_000)
    path = Path(args.path).expanduser()
    settings = demo_settings(args.config, path, args.max_file_mb)
    if path.is_dir():
        raise UsageError(f"{path}: is a directory; --path takes a log file name")
    if not live and path.exists() and path.stat().st_size:
        print(f"demo: note: appending backfilled events to {path}, which already has events",
              file=sys.stderr)
    simulation = Simulation(seed=seed, sessions=sessions)
    # Live events are stamped by the wall clock; backfilled ones by the simulation's clock.
    logger = ProductionLogger(settings) if live else ProductionLogger(settings, clock=simulation.clock)
    started = time.monotonic()
    deadline = started + args.duration if args.duration else math.inf
    with _stop_on_signals(simulation):
        if live:
            print(f"demo: {sessions} sessions, about {args.rate:g} events/s, seed {seed}, writing to {path} "
                  f"(Ctrl-C to stop)", file=sys.stderr, flush=True)
        try:
            if live:
                stopped = simulation.run_live(logger, args.rate, deadline=deadline)
            else:
                stopped = simulation.run_backfill(logger, deadline=deadline,
                                                  progress=_progress(simulation, sessions))
        finally:
            logger.close()
    summary = Summary(
        events=logger.stats.events_written, dropped=logger.stats.events_dropped,
        sessions=simulation.sessions_started, seconds=time.monotonic() - started, seed=seed, stopped=stopped,
    )
    print(_summary_line(summary, path, live), flush=True)
    return 1 if summary.dropped else 0  # the writer said why, once, on the obra_monitor logger


def demo_settings(config_file: str | None, path: Path, max_file_mb: float | None) -> Any:
    """The demo's logger settings: a config's section (if given) with path, switch and toggles set."""
    section: dict[str, Any] = {}
    if config_file:
        section = dict(section_of(read_config_file(config_file), SECTION, config_file) or {})
    section["enabled"] = True
    section["path"] = str(path)
    section["events"] = {**(section.get("events") or {}),
                         "orchestrator_prompts": True, "implementer_responses": True}
    if max_file_mb is not None:
        section["rotation"] = {**(section.get("rotation") or {}), "max_file_size_mb": max_file_mb}
    return settings_from_mapping(section, config_file or "demo")


def _summary_line(summary: Summary, path: Path, live: bool) -> str:
    how = {"finished": "", "duration": " (--duration reached)", "interrupted": " (stopped by Ctrl-C)"}
    rate = summary.events / summary.seconds if summary.seconds > 0 else 0.0
    rotated = len(list(path.parent.glob(path.name + ".[0-9]*")))
    files = f" (+{rotated} rotated)" if rotated else ""
    dropped = f", {summary.dropped:,} DROPPED" if summary.dropped else ""
    mode = "live" if live else f"backfilled over {BACKFILL_DAYS} days"
    return (f"demo: {summary.events:,} events from {summary.sessions:,} sessions, {mode}, to {path}{files} "
            f"in {summary.seconds:.1f} s ({rate:,.0f} events/s), seed {summary.seed}{dropped}"
            f"{how[summary.stopped]}")


def _progress(simulation: Simulation, total: int) -> Callable[[int], None] | None:
    if not sys.stderr.isatty():
        return None
    last = [0.0]

    def show(started: int) -> None:
        now = time.monotonic()
        if now - last[0] >= 0.5:
            last[0] = now
            written = simulation.logger.stats.events_written
            print(f"\rdemo: {written:,} events, {started:,}/{total:,} sessions started", end="",
                  file=sys.stderr, flush=True)

    return show


class _stop_on_signals:
    """Ctrl-C (and SIGTERM) ask the simulation to stop; it finishes its step and returns."""

    def __init__(self, simulation: Simulation) -> None:
        self.simulation = simulation
        self.previous: dict[int, Any] = {}

    def __enter__(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        for number in (signal.SIGINT, signal.SIGTERM):
            self.previous[number] = signal.signal(number, self._handle)

    def __exit__(self, *exc_info: object) -> None:
        for number, handler in self.previous.items():
            signal.signal(number, handler)
        if sys.stderr.isatty():
            print("\r\033[K", end="", file=sys.stderr, flush=True)

    def _handle(self, number: int, frame: Any) -> None:
        self.simulation.stop_requested = True


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not value > 0 or math.isinf(value):
        raise argparse.ArgumentTypeError(f"expected a number greater than 0, got {text!r}")
    return value


def _rate(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not value >= 0 or math.isinf(value):
        raise argparse.ArgumentTypeError(f"expected events per second (0 = as fast as possible), got {text!r}")
    return value


@contextmanager
def background_demo(rate: float = 8.0, history_sessions: int = 200) -> Iterator[Path]:
    """A throwaway log with 30 days of history, then live traffic from a child process.

    For `obra-monitor tui --demo`: the child has its own interpreter, so the
    simulation never competes with the TUI for the GIL; both go when the block ends.
    """
    with tempfile.TemporaryDirectory(prefix="obra-monitor-demo-") as directory:
        path = Path(directory) / "production.jsonl"
        command = [sys.executable, "-m", "obra_monitor", "demo", "--path", str(path)]
        quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
        subprocess.run([*command, "--rate", "0", "--sessions", str(history_sessions)], check=False, **quiet)
        child = subprocess.Popen([*command, "--rate", f"{rate:g}"], **quiet)
        try:
            yield path
        finally:
            child.terminate()  # the demo ends cleanly on SIGTERM
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()

