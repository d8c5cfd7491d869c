"""ProductionLogger: the host REPL's side of monitoring.

A drop-in for Obra's class of the same name (same constructor and `log_*`
methods), plus the turn API, which numbers turns and measures durations so
an instrumented REPL needs a handful of lines:

    logger = initialize_production_logger(app_config)
    with logger.turn(session_id, text) as turn:
        turn.nl_result(nl_processor.process(text))
        turn.execution_result(orchestrator.execute_nl_command(...))

Every public method swallows its own failures: the host never sees an
exception from logging. Events flow: method -> event dict -> redaction and
caps -> encoding -> writer (directly, or through one background thread in
async mode).
"""

from __future__ import annotations

import atexit
import logging
import os
import queue
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from types import TracebackType
from typing import Any

from obra_monitor import events as ev
from obra_monitor.config import SECTION, LoggingSettings, load_settings, settings_from_mapping
from obra_monitor.encoding import encode_event, truncate
from obra_monitor.events import EventType, Stage
from obra_monitor.redaction import Redactor
from obra_monitor.writer import RotatingWriter

_log = logging.getLogger("obra_monitor")

_TOGGLE_BY_TYPE = {
    EventType.USER_INPUT: "user_input",
    EventType.NL_RESULT: "nl_results",
    EventType.EXECUTION_RESULT: "execution_results",
    EventType.ERROR: "errors",
    EventType.ORCH_PROMPT: "orchestrator_prompts",
    EventType.IMPL_RESPONSE: "implementer_responses",
}
_ASYNC_QUEUE_EVENTS = 10_000
_TRACKED_SESSIONS = 10_000
_CLOSE_TIMEOUT_S = 10.0
_ENTITY_SUMMARY_KEYS = 20
# Exact types: bool is an int subclass but not a measurement.
_NUMBERS = (int, float)


def generate_session_id() -> str:
    return str(uuid.uuid4())


@dataclass(frozen=True)
class LoggerStats:
    """What happened to the events handed to the logger, for health checks and tests."""

    events_written: int
    events_dropped: int
    events_disabled: int
    fields_truncated: int
    rotations: int
    internal_errors: int


class ProductionLogger:
    """Structured JSONL production logging for an interactive NL REPL."""

    def __init__(self, config: Mapping[str, Any] | LoggingSettings | None = None, *,
                 clock: Callable[[], datetime] = ev.utc_now) -> None:
        """`config` is the `production_logging` section as a dict (or settings).

        An invalid section raises ConfigError here, at start-up, so a typo is
        found at once rather than as silently missing logs. `clock` stamps
        events (aware UTC datetimes); simulators pass one to backfill history.
        """
        self._clock = clock
        self.settings = config if isinstance(config, LoggingSettings) else settings_from_mapping(config)
        self.enabled = self.settings.enabled
        self.log_path = self.settings.path
        privacy = self.settings.privacy
        self._redactor = Redactor(
            pii=privacy.redact_pii,
            secrets=privacy.redact_secrets,
            custom_patterns=privacy.redact_patterns,
            # The redactor does the capping: it cuts at a blank, so no key is cut in half and leaks.
            max_scan_chars=self.settings.max_field_chars,
        )
        self._wanted = {
            event_type: getattr(self.settings.events, toggle)
            for event_type, toggle in _TOGGLE_BY_TYPE.items()
        }
        self._field_cap = self.settings.max_field_chars
        self._writer = RotatingWriter(
            self.log_path, self.settings.max_file_bytes, self.settings.rotation.max_files
        )
        self._turns: OrderedDict[str, int] = OrderedDict()
        self._turns_lock = threading.Lock()
        self._disabled = self._truncated = self._internal_errors = 0
        self._warned_internal = False
        self._closed = False
        # SimpleQueue: its C put is several times cheaper than queue.Queue's; the
        # bound is checked with qsize(), which may overshoot by one line per thread.
        self._queue: queue.SimpleQueue[bytes | None] | None = None
        self._thread: threading.Thread | None = None
        if self.enabled and self.settings.async_logging:
            self._start_background_writer()

    @classmethod
    def from_yaml(cls, config_file: str | os.PathLike[str]) -> ProductionLogger:
        """Build from a whole application config file (its monitoring.production_logging)."""
        return cls(load_settings(config_file))

    # -- Obra's API ------------------------------------------------------------------

    def log_user_input(self, session_id: str, input_text: str, redact: bool = True) -> None:
        """Log what the user typed; this starts a new turn of the session."""
        self._log_user_input(session_id, input_text, redact)

    def log_nl_result(self, session_id: str, parsed_intent: Any, duration_ms: float) -> None:
        """Log how the NL pipeline understood the turn (duck-typed ParsedIntent or dict)."""
        try:
            self._log_nl_result(session_id, self._current_turn(session_id), parsed_intent, duration_ms)
        except Exception as exc:
            self._internal_error(exc)

    def log_execution_result(self, session_id: str, result: Any, duration_ms: float) -> None:
        """Log the orchestrator's result dict (`success`, `message`, `data`/`bulk_results`)."""
        try:
            self._log_execution_result(
                session_id, self._current_turn(session_id), result, duration_ms, None
            )
        except Exception as exc:
            self._internal_error(exc)

    def log_error(
        self,
        session_id: str,
        stage: str,
        error: BaseException | str,
        context: Mapping[str, Any] | None = None,
        recoverable: bool | None = None,
    ) -> None:
        """Log an error the REPL caught; recoverable unless told otherwise."""
        try:
            self._log_error(session_id, self._current_turn(session_id), stage, error, context,
                            _recoverable(error, recoverable, default=True))
        except Exception as exc:
            self._internal_error(exc)

    def log_orch_prompt(
        self, session_id: str, task_id: Any, target: str, prompt_length: int, context_tokens: int
    ) -> None:
        try:
            self._emit(EventType.ORCH_PROMPT, session_id, self._current_turn(session_id), {
                ev.TASK_ID: task_id,
                ev.TARGET: self._text(target),
                ev.PROMPT_LENGTH: prompt_length,
                ev.CONTEXT_TOKENS: context_tokens,
            })
        except Exception as exc:
            self._internal_error(exc)

    def log_impl_response(
        self, session_id: str, task_id: Any, success: bool, duration_ms: float, output_length: int
    ) -> None:
        try:
            self._emit(EventType.IMPL_RESPONSE, session_id, self._current_turn(session_id), {
                ev.TASK_ID: task_id,
                ev.SUCCESS: bool(success),
                ev.DURATION_MS: _milliseconds(duration_ms),
                ev.OUTPUT_LENGTH: output_length,
            })
        except Exception as exc:
            self._internal_error(exc)

    def turn(self, session_id: str, input_text: str, redact: bool = True) -> Turn:
        """A context manager (sync or async) covering one user turn; see `Turn`."""
        return Turn(self, session_id, input_text, redact)

    def close(self) -> None:
        """Write out what is queued and release the files; later calls are dropped."""
        if self._closed:
            return
        self._closed = True
        try:
            if self._thread is not None:
                self._queue.put(None)  # type: ignore[union-attr]
                self._thread.join(_CLOSE_TIMEOUT_S)
            self._writer.close()
        except Exception as exc:
            self._internal_error(exc)

    @property
    def stats(self) -> LoggerStats:
        counts = self._writer.counts
        return LoggerStats(
            events_written=counts.lines_written,
            events_dropped=counts.lines_dropped,
            events_disabled=self._disabled,
            fields_truncated=self._truncated,
            rotations=counts.rotations,
            internal_errors=self._internal_errors,
        )

    def __enter__(self) -> ProductionLogger:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- building events ---------------------------------------------------------------

    def _log_user_input(self, session_id: str, input_text: str, redact: bool) -> int | None:
        try:
            turn = self._next_turn(session_id)
            text = self._text(input_text) if redact else truncate(str(input_text), self._field_cap)
            self._emit(EventType.USER_INPUT, session_id, turn, {ev.INPUT: text})
        except Exception as exc:
            self._internal_error(exc)
            return None
        return turn

    def _log_nl_result(self, session_id: str, turn: int | None, parsed_intent: Any,
                       duration_ms: float) -> dict[str, Any]:
        fields = _nl_fields(parsed_intent)
        identifier = fields[ev.IDENTIFIER]
        if isinstance(identifier, str):
            fields[ev.IDENTIFIER] = self._text(identifier)
        fields[ev.DURATION_MS] = _milliseconds(duration_ms)
        self._emit(EventType.NL_RESULT, session_id, turn, fields)
        return fields

    def _log_execution_result(self, session_id: str, turn: int | None, result: Any,
                              duration_ms: float, parse: Mapping[str, Any] | None) -> None:
        message = _get(result, "message")
        fields: dict[str, Any] = {
            ev.SUCCESS: bool(_get(result, "success", False)),
            ev.MESSAGE: None if message is None else self._text(message),
            ev.ENTITIES_AFFECTED: self._clean_value(_entities_affected(result)),
            ev.TOTAL_DURATION_MS: _milliseconds(duration_ms),
        }
        if parse:
            fields[ev.OPERATION] = parse.get(ev.OPERATION)
            fields[ev.ENTITY] = parse.get(ev.ENTITY)
        self._emit(EventType.EXECUTION_RESULT, session_id, turn, fields)

    def _log_error(self, session_id: str, turn: int | None, stage: str,
                   error: BaseException | str, context: Mapping[str, Any] | None,
                   recoverable: bool) -> None:
        if isinstance(error, BaseException):
            error_type, text = type(error).__name__, str(error)
        else:
            error_type, text = "Error", str(error)
        fields: dict[str, Any] = {
            ev.STAGE: str(getattr(stage, "value", stage)),
            ev.ERROR_TYPE: error_type,
            ev.ERROR: self._text(text),
            ev.RECOVERABLE: recoverable,
        }
        if context:
            fields[ev.CONTEXT] = self._clean_value(context)
        self._emit(EventType.ERROR, session_id, turn, fields)

    def _text(self, value: Any) -> str:
        """Free text from the host, capped at max_field_chars and redacted."""
        text = value if isinstance(value, str) else str(value)
        if len(text) > self._field_cap:
            self._truncated += 1
        if self._redactor.enabled:
            return self._redactor.redact(text)
        return truncate(text, self._field_cap)

    def _clean_value(self, value: Any) -> Any:
        """Strings anywhere inside a context/entities structure get the same treatment as text."""
        if self._redactor.enabled:
            return self._redactor.redact_value(value)  # also blanks values under keys like "password"
        if isinstance(value, str):
            return self._text(value)
        if isinstance(value, Mapping):
            return {key: self._clean_value(item) for key, item in value.items()}
        if isinstance(value, (list, tuple)):
            return [self._clean_value(item) for item in value]
        return value

    # -- turns ---------------------------------------------------------------------------

    def _next_turn(self, session_id: str) -> int:
        with self._turns_lock:
            number = self._turns.pop(session_id, 0) + 1
            self._turns[session_id] = number
            if len(self._turns) > _TRACKED_SESSIONS:
                self._turns.popitem(last=False)
            return number

    def _current_turn(self, session_id: str) -> int | None:
        return self._turns.get(session_id)

    # -- writing -------------------------------------------------------------------------

    def _emit(self, event_type: EventType, session_id: str, turn: int | None,
              fields: Mapping[str, Any]) -> None:
        if not self.enabled or self._closed:
            return
        if not self._wanted[event_type]:
            self._disabled += 1
            return
        session = session_id if type(session_id) is str else str(session_id)
        stamp: datetime | str = self._clock()
        if not stamp.microsecond:  # orjson drops a zero fraction; `ts` stays fixed-width
            stamp = ev.format_ts(stamp)
        if turn is None:
            event = {ev.TYPE: event_type, ev.TS: stamp, ev.SESSION: session, **fields}
        else:
            event = {ev.TYPE: event_type, ev.TS: stamp, ev.SESSION: session, ev.TURN: turn, **fields}
        line = encode_event(event)
        if self._queue is None:
            self._writer.write(line)
            return
        if self._queue.qsize() < _ASYNC_QUEUE_EVENTS:
            self._queue.put(line)
        else:
            self._writer.write(line)  # backpressure: the caller pays, nothing is lost

    def _start_background_writer(self) -> None:
        self._queue = queue.SimpleQueue()
        self._thread = threading.Thread(
            target=self._drain_queue, name="obra-monitor-writer", daemon=True
        )
        self._thread.start()
        atexit.register(self.close)

    def _drain_queue(self) -> None:
        """Join queued lines into writes of up to buffer_size bytes, until close()."""
        assert self._queue is not None
        limit = self.settings.buffer_size
        while True:
            line = self._queue.get()
            if line is None:
                return
            batch, size, stop = [line], len(line), False
            while size < limit:
                try:
                    line = self._queue.get_nowait()
                except queue.Empty:
                    break
                if line is None:
                    stop = True
                    break
                batch.append(line)
                size += len(line)
            self._writer.write(b"".join(batch), lines=len(batch))
            if stop:
                return

    def _internal_error(self, exc: Exception) -> None:
        self._internal_errors += 1
        if not self._warned_internal:
            self._warned_internal = True
            _log.warning("obra-monitor: an event could not be logged: %r", exc)


class Turn:
    """One user turn: logs user_input on entry and an error for an exception escaping it.

    `nl_result()` and `execution_result()` measure their own durations from
    the start of the turn (execution's is the turn's total). `stage` names
    where the turn is, and is what an escaping exception is blamed on; it
    advances by itself and can be set by the host (e.g. `turn.stage = "validation"`).
    """

    def __init__(self, logger: ProductionLogger, session_id: str, input_text: str,
                 redact: bool = True) -> None:
        self.logger = logger
        self.session_id = session_id
        self.input_text = input_text
        self.redact = redact
        self.number: int | None = None
        self.stage: str = Stage.INPUT
        self._started = 0.0
        self._parse: Mapping[str, Any] | None = None

    def __enter__(self) -> Turn:
        self._started = time.perf_counter()
        self.number = self.logger._log_user_input(self.session_id, self.input_text, self.redact)
        self.stage = Stage.NL_PROCESSING
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> bool:
        if exc is not None:
            self.error(exc, recoverable=_recoverable(exc, None, default=False))
        return False

    async def __aenter__(self) -> Turn:
        return self.__enter__()

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        traceback: TracebackType | None) -> bool:
        return self.__exit__(exc_type, exc, traceback)

    def elapsed_ms(self) -> float:
        return (time.perf_counter() - self._started) * 1000.0

    def nl_result(self, parsed_intent: Any, duration_ms: float | None = None) -> None:
        try:
            duration = self.elapsed_ms() if duration_ms is None else duration_ms
            self._parse = self.logger._log_nl_result(
                self.session_id, self.number, parsed_intent, duration
            )
        except Exception as exc:
            self.logger._internal_error(exc)
        self.stage = Stage.EXECUTION

    def execution_result(self, result: Any, duration_ms: float | None = None) -> None:
        try:
            duration = self.elapsed_ms() if duration_ms is None else duration_ms
            self.logger._log_execution_result(
                self.session_id, self.number, result, duration, self._parse
            )
        except Exception as exc:
            self.logger._internal_error(exc)

    def error(self, error: BaseException | str, stage: str | None = None,
              context: Mapping[str, Any] | None = None, recoverable: bool | None = None) -> None:
        try:
            self.logger._log_error(
                self.session_id, self.number, stage or self.stage, error, context,
                _recoverable(error, recoverable, default=True),
            )
        except Exception as exc:
            self.logger._internal_error(exc)

    def orch_prompt(self, task_id: Any, target: str, prompt_length: int, context_tokens: int) -> None:
        self.logger.log_orch_prompt(self.session_id, task_id, target, prompt_length, context_tokens)

    def impl_response(self, task_id: Any, success: bool, duration_ms: float, output_length: int) -> None:
        self.logger.log_impl_response(self.session_id, task_id, success, duration_ms, output_length)


# -- the process-wide logger, as Obra uses it ------------------------------------------

_global_logger: ProductionLogger | None = None
_global_lock = threading.Lock()


def initialize_production_logger(
    app_config: Mapping[str, Any] | str | os.PathLike[str] | Any,
) -> ProductionLogger:
    """Create the process-wide logger from the whole application config.

    Takes a dict (or an object with a dotted `get`, like Obra's Config) holding
    `monitoring.production_logging`, or the path of a YAML config file.
    Replaces (and closes) a logger created before.
    """
    global _global_logger
    if isinstance(app_config, (str, os.PathLike)):
        logger = ProductionLogger.from_yaml(app_config)
    else:
        logger = ProductionLogger(_production_section(app_config))
    with _global_lock:
        previous, _global_logger = _global_logger, logger
    if previous is not None:
        previous.close()
    return logger


def get_production_logger() -> ProductionLogger | None:
    return _global_logger


def _production_section(app_config: Any) -> Mapping[str, Any] | None:
    if isinstance(app_config, Mapping):
        node: Any = app_config
        for key in SECTION:
            node = node.get(key) if isinstance(node, Mapping) else None
        return node
    getter = getattr(app_config, "get", None)
    if getter is not None:
        return getter(".".join(SECTION), None)
    return None


# -- reading the host's objects -----------------------------------------------------------

def _get(source: Any, name: str, default: Any = None) -> Any:
    return default if source is None else _getter(source)(name, default)


def _nl_fields(parsed_intent: Any) -> dict[str, Any]:
    """intent/operation/entity/... from a ParsedIntent-like object or a plain dict.

    Runs on every nl_result, so it reads through one C-level getter rather
    than a helper call per field.
    """
    get = _getter(parsed_intent)
    context = get("operation_context", None)
    source = get if context is None else _getter(context)
    entity = source("entity_type", None) or source("entity", None)
    if entity is None:
        entity_types = source("entity_types", None)
        entity = entity_types[0] if entity_types else None
    metadata = get("metadata", None) or {}
    fields = {
        ev.INTENT: ev.normalize_intent(get("intent_type", None) or get("intent", None)),
        ev.CONFIDENCE: _number(get("confidence", None)),
        ev.OPERATION: ev.normalize_operation(source("operation", None)),
        ev.ENTITY: ev.normalize_entity(entity),
        ev.IDENTIFIER: source("identifier", None),
        ev.VALIDATION: _validation(get, metadata),
    }
    stages = _stage_confidences(get, metadata)
    if stages:
        fields[ev.STAGES] = stages
    return fields


def _getter(source: Any) -> Callable[[str, Any], Any]:
    if isinstance(source, dict) or isinstance(source, Mapping):  # dict first: the ABC check is slow
        return source.get
    return partial(getattr, source)


def _validation(get: Callable[[str, Any], Any], metadata: Mapping[str, Any]) -> str:
    explicit = get("validation", None)
    if explicit == ev.VALIDATION_PASSED or explicit == ev.VALIDATION_FAILED:
        return explicit
    failed = metadata.get("validation_failed", get("validation_failed", False))
    return ev.VALIDATION_FAILED if failed else ev.VALIDATION_PASSED


def _stage_confidences(get: Callable[[str, Any], Any], metadata: Mapping[str, Any]) -> dict[str, float] | None:
    stages = get("stages", None) or metadata.get("stages") or metadata.get("stage_confidences")
    if not (type(stages) is dict or isinstance(stages, Mapping)):
        stages = {name: metadata.get(f"{name}_confidence") for name in ev.NL_STAGES}
    found = {}
    for name, value in stages.items():
        if type(value) in _NUMBERS:
            found[str(name)] = float(value)
    return found or None


def _entities_affected(result: Any) -> Any:
    explicit = _get(result, "entities_affected")
    if explicit is not None:
        return explicit
    for key in ("bulk_results", "data"):
        summary = _count_entities(_get(result, key))
        if summary:
            return summary
    return None


def _count_entities(value: Any) -> dict[str, Any] | None:
    """Counts and ids, not payloads: lists become their length, nested objects are skipped."""
    if isinstance(value, (list, tuple)):
        return {"items": len(value)}
    if not isinstance(value, Mapping):
        return None
    summary: dict[str, Any] = {}
    for key, item in value.items():
        if isinstance(item, (list, tuple, set)):
            summary[str(key)] = len(item)
        elif isinstance(item, (int, str)) and not isinstance(item, bool):
            summary[str(key)] = item
        if len(summary) >= _ENTITY_SUMMARY_KEYS:
            break
    return summary or None


def _number(value: Any) -> float | None:
    if type(value) in _NUMBERS:
        return float(value)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def _milliseconds(value: Any) -> float | None:
    number = _number(value)
    return None if number is None else round(number, 3)


def _recoverable(error: Any, explicit: bool | None, default: bool) -> bool:
    if explicit is not None:
        return bool(explicit)
    flag = getattr(error, "recoverable", None)
    return default if flag is None else bool(flag)
