"""Write a realistic big production log for the benchmarks.

    .venv/bin/python bench/make_big_log.py            # ~300 MB, ~1.3 M events -> bench/out/big.jsonl
    .venv/bin/python bench/make_big_log.py --sessions 600 --out /tmp/small.jsonl

Sessions overlap in time the way many REPL users do, every event type appears,
a few percent of turns fail (validation errors, execution failures, NL
errors), latencies follow long-tailed distributions, and a small share of
sessions look like an older logger wrote them (no `turn`, no `stages`,
lower-case operations, `+00:00` offsets). A handful of torn/garbage lines are
mixed in, as a crash would leave them. Lines are written directly with orjson
(not through the logger) so that generating 300 MB takes seconds; the output
is deterministic for a given --seed.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import orjson

from obra_monitor import events as ev

OUT = Path(__file__).resolve().parent / "out" / "big.jsonl"

OPERATIONS = ("CREATE", "UPDATE", "DELETE", "QUERY")
OPERATION_WEIGHTS = (0.30, 0.25, 0.10, 0.35)
ENTITIES = ("project", "epic", "story", "task", "subtask", "milestone")
ENTITY_WEIGHTS = (0.15, 0.15, 0.2, 0.35, 0.1, 0.05)
PLURAL = {entity: entity + "s" for entity in ENTITIES} | {"story": "stories"}
INPUTS = {
    "CREATE": ("create a new {e} called {name}", "add {e} '{name}' to project {n}",
               "make an {e} for the {name} work", "new {e}: {name} with high priority"),
    "UPDATE": ("mark {e} {n} as done", "rename {e} {n} to {name}",
               "set the priority of {e} {n} to high", "move {e} {n} into epic {m}"),
    "DELETE": ("delete {e} {n}", "remove the {e} called {name}", "delete all {es}",
               "get rid of {e} {n} please"),
    "QUERY": ("show me all {es}", "list open {es} in project {n}",
              "what {es} are blocked?", "how many {es} are left in epic {m}"),
}
QUESTIONS = ("what can you do?", "how do I create an epic?", "why did that fail?",
             "what is the difference between a story and a task?", "help")
NAMES = ("auth refactor", "billing v2", "onboarding flow", "search", "dark mode",
         "mobile app", "data export", "rate limiter", "docs cleanup", "perf sprint")
SUCCESS_MESSAGES = {
    "CREATE": "Created {e} #{n}", "UPDATE": "Updated {e} #{n}",
    "DELETE": "Deleted {k} {es}", "QUERY": "Found {k} {es}",
}
EXEC_FAILURES = (
    ("{E} {n} not found", "EntityNotFoundError"),
    ("Cannot delete {e} {n}: it has {k} open children", "IntegrityError"),
    ("Database is locked", "OperationalError"),
    ("Timed out after {k}s waiting for the orchestrator", "TimeoutError"),
)
VALIDATION_FAILURES = (
    "Project ID must be positive integer",
    "Unknown {e} identifier '{name}'",
    "Missing required parameter 'title'",
)
NL_FAILURES = (
    ("LLM request failed: 503 Service Unavailable", "LLMConnectionError"),
    ("Could not parse model output as JSON", "ParseError"),
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=OUT, help=f"output file (default {OUT})")
    parser.add_argument("--sessions", type=int, default=60_000, help="number of sessions")
    parser.add_argument("--concurrent", type=int, default=400, help="sessions active at once")
    parser.add_argument("--days", type=float, default=7.0, help="time span ending now")
    parser.add_argument("--seed", type=int, default=20261204)
    args = parser.parse_args(argv)

    started = time.perf_counter()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    count, size = write_log(args.out, args.sessions, args.concurrent, args.days, args.seed)
    took = time.perf_counter() - started
    print(f"wrote {args.out}: {count:,} events, {args.sessions:,} sessions, "
          f"{size / 1e6:.0f} MB in {took:.1f}s", file=sys.stderr)
    return 0


class Session:
    __slots__ = ("id", "turn", "turns_left", "legacy", "task")

    def __init__(self, rng: random.Random, legacy: bool) -> None:
        self.id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        self.turn = 0
        self.turns_left = max(1, int(rng.expovariate(1 / 5.5)) + 1)
        self.legacy = legacy
        self.task = 0


def write_log(out: Path, sessions: int, concurrent: int, days: float, seed: int) -> tuple[int, int]:
    rng = random.Random(seed)
    end = datetime.now(timezone.utc).replace(microsecond=0)
    clock = end - timedelta(days=days)
    # Mean gap between turns so that the whole log spans about `days` (~6 turns a session).
    gap = days * 86400 / (sessions * 6.3)
    dumps = orjson.dumps
    active: list[Session] = []
    started = 0
    count = 0
    garbage_every = max(1, sessions // 6)
    with open(out, "wb", buffering=8 << 20) as fh:
        write = fh.write
        while started < sessions or active:
            while len(active) < concurrent and started < sessions:
                active.append(Session(rng, legacy=rng.random() < 0.02))
                started += 1
                if started % garbage_every == 0:
                    write(_garbage(rng))
            index = rng.randrange(len(active))
            session = active[index]
            clock += timedelta(seconds=rng.expovariate(1 / gap))
            for event in _turn(rng, session, clock):
                write(dumps(event))
                write(b"\n")
                count += 1
            session.turns_left -= 1
            if session.turns_left <= 0:
                active[index] = active[-1]
                active.pop()
        size = fh.tell()
    return count, size


def _garbage(rng: random.Random) -> bytes:
    choice = rng.randrange(3)
    if choice == 0:
        return b'{"type":"user_input","ts":"2026-01-01T00:00:00Z","sess\n'  # torn by a crash
    if choice == 1:
        return bytes(rng.getrandbits(8) for _ in range(40)).replace(b"\n", b" ") + b"\n"
    return b'["not", "an", "object"]\n'


def _turn(rng: random.Random, session: Session, clock: datetime) -> list[dict]:
    session.turn += 1
    legacy = session.legacy
    t = clock

    def envelope(kind: str, at: datetime) -> dict:
        if legacy:
            stamp = at.isoformat(timespec="microseconds")  # "+00:00", the older loggers' style
            return {ev.TYPE: kind, ev.TS: stamp, ev.SESSION: session.id}
        stamp = at.strftime("%Y-%m-%dT%H:%M:%S.%f") + "Z"
        return {ev.TYPE: kind, ev.TS: stamp, ev.SESSION: session.id, ev.TURN: session.turn}

    out: list[dict] = []
    question = rng.random() < 0.12
    operation = rng.choices(OPERATIONS, OPERATION_WEIGHTS)[0]
    entity = rng.choices(ENTITIES, ENTITY_WEIGHTS)[0]
    fill = {"e": entity, "es": PLURAL[entity], "E": entity.capitalize(), "n": rng.randrange(1, 400),
            "m": rng.randrange(1, 60), "k": rng.randrange(2, 40), "name": rng.choice(NAMES)}
    text = rng.choice(QUESTIONS) if question else rng.choice(INPUTS[operation]).format(**fill)
    out.append({**envelope(ev.EventType.USER_INPUT, t), ev.INPUT: text})

    nl_ms = round(rng.lognormvariate(6.9, 0.45), 1)  # median ~1 s, long tail
    t += timedelta(milliseconds=nl_ms)
    if rng.random() < 0.012:
        message, kind = rng.choice(NL_FAILURES)
        out.append({**envelope(ev.EventType.ERROR, t), ev.STAGE: ev.Stage.NL_PROCESSING,
                    ev.ERROR_TYPE: kind, ev.ERROR: message, ev.RECOVERABLE: True})
        return out

    confidence_base = rng.betavariate(12, 1.6)
    stages = {name: round(min(1.0, max(0.0, confidence_base + rng.gauss(0, 0.05))), 2)
              for name in ev.NL_STAGES}
    invalid = not question and rng.random() < 0.03
    nl = {**envelope(ev.EventType.NL_RESULT, t),
          ev.INTENT: "QUESTION" if question else "COMMAND",
          ev.CONFIDENCE: round(confidence_base, 3),
          ev.OPERATION: None if question else (operation.lower() if legacy else operation),
          ev.ENTITY: None if question else entity,
          ev.IDENTIFIER: None if question else (
              "__ALL__" if "all" in text else str(fill["n"])),
          ev.VALIDATION: ev.VALIDATION_FAILED if invalid else ev.VALIDATION_PASSED,
          ev.DURATION_MS: nl_ms}
    if not legacy:
        nl[ev.STAGES] = stages
    out.append(nl)

    if invalid:
        message = rng.choice(VALIDATION_FAILURES).format(**fill)
        error = {**envelope(ev.EventType.ERROR, t), ev.STAGE: ev.Stage.VALIDATION,
                 ev.ERROR_TYPE: "ValidationException", ev.ERROR: message, ev.RECOVERABLE: True}
        if "positive" in message:
            error[ev.CONTEXT] = {"project_id": -rng.randrange(1, 9)}
        out.append(error)
        return out

    exec_ms = nl_ms
    if not question and rng.random() < 0.25:
        for _ in range(rng.choice((1, 1, 2))):
            session.task += 1
            prompt = {**envelope(ev.EventType.ORCH_PROMPT, t), ev.TASK_ID: session.task,
                      ev.TARGET: "claude-code", ev.PROMPT_LENGTH: rng.randrange(400, 6000),
                      ev.CONTEXT_TOKENS: rng.randrange(1000, 20000)}
            out.append(prompt)
            impl_ms = round(rng.lognormvariate(8.9, 0.6), 1)  # median ~7 s
            t += timedelta(milliseconds=impl_ms)
            exec_ms += impl_ms
            out.append({**envelope(ev.EventType.IMPL_RESPONSE, t), ev.TASK_ID: session.task,
                        ev.SUCCESS: rng.random() > 0.04, ev.DURATION_MS: impl_ms,
                        ev.OUTPUT_LENGTH: rng.randrange(200, 9000)})

    step_ms = round(rng.lognormvariate(5.0, 0.8), 1)
    exec_ms = round(exec_ms + step_ms, 1)
    t += timedelta(milliseconds=step_ms)
    failed = rng.random() < 0.05
    result = {**envelope(ev.EventType.EXECUTION_RESULT, t)}
    if question:
        result.update({ev.SUCCESS: True, ev.MESSAGE: "Answered question",
                       ev.ENTITIES_AFFECTED: {}, ev.TOTAL_DURATION_MS: exec_ms})
        out.append(result)
        return out
    if failed:
        template, kind = rng.choice(EXEC_FAILURES)
        message = template.format(**fill)
        result.update({ev.SUCCESS: False, ev.MESSAGE: message, ev.ENTITIES_AFFECTED: {},
                       ev.TOTAL_DURATION_MS: exec_ms})
    else:
        count = fill["k"] if operation in ("DELETE", "QUERY") else 1
        result.update({ev.SUCCESS: True,
                       ev.MESSAGE: SUCCESS_MESSAGES[operation].format(**fill),
                       ev.ENTITIES_AFFECTED: {PLURAL[entity]: count},
                       ev.TOTAL_DURATION_MS: exec_ms})
    if not legacy:
        result[ev.OPERATION] = operation
        result[ev.ENTITY] = entity
    out.append(result)
    if failed:
        out.append({**envelope(ev.EventType.ERROR, t), ev.STAGE: ev.Stage.EXECUTION,
                    ev.ERROR_TYPE: kind, ev.ERROR: message, ev.RECOVERABLE: kind != "IntegrityError",
                    ev.CONTEXT: {"operation": operation, "entity": entity}})
    return out


if __name__ == "__main__":
    sys.exit(main())
