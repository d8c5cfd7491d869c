"""The event schema: every event type and field name, defined once.

Writers, readers, statistics and views import these names instead of spelling
strings, so a renamed field is one edit. The schema is JSON Lines, one object
per line; see DESIGN.md and docs/reference.md for the field table.
"""

from __future__ import annotations

from datetime import datetime, timezone
from enum import StrEnum
from typing import Final


class EventType(StrEnum):
    USER_INPUT = "user_input"
    NL_RESULT = "nl_result"
    EXECUTION_RESULT = "execution_result"
    ERROR = "error"
    ORCH_PROMPT = "orch_prompt"
    IMPL_RESPONSE = "impl_response"


class Stage(StrEnum):
    """Where in a turn something happened; `error.stage` takes these values.

    Hosts may log other stage names; readers keep whatever string they find.
    """

    INPUT = "input"
    NL_PROCESSING = "nl_processing"
    VALIDATION = "validation"
    EXECUTION = "execution"
    IMPLEMENTER = "implementer"


# Envelope, present on every event.
TYPE: Final = "type"
TS: Final = "ts"
SESSION: Final = "session"
TURN: Final = "turn"  # per-session counter from 1; absent in older logs

# user_input
INPUT: Final = "input"

# nl_result
INTENT: Final = "intent"
CONFIDENCE: Final = "confidence"
OPERATION: Final = "operation"
ENTITY: Final = "entity"
IDENTIFIER: Final = "identifier"
VALIDATION: Final = "validation"
DURATION_MS: Final = "duration_ms"
STAGES: Final = "stages"

# execution_result (also carries OPERATION and ENTITY of its turn when known)
SUCCESS: Final = "success"
MESSAGE: Final = "message"
ENTITIES_AFFECTED: Final = "entities_affected"
TOTAL_DURATION_MS: Final = "total_duration_ms"

# error
STAGE: Final = "stage"
ERROR_TYPE: Final = "error_type"
ERROR: Final = "error"
RECOVERABLE: Final = "recoverable"
CONTEXT: Final = "context"

# orch_prompt / impl_response (also DURATION_MS, SUCCESS)
TASK_ID: Final = "task_id"
TARGET: Final = "target"
PROMPT_LENGTH: Final = "prompt_length"
CONTEXT_TOKENS: Final = "context_tokens"
OUTPUT_LENGTH: Final = "output_length"

ENVELOPE_FIELDS: Final = (TYPE, TS, SESSION, TURN)

FIELDS_BY_TYPE: Final[dict[EventType, tuple[str, ...]]] = {
    EventType.USER_INPUT: (INPUT,),
    EventType.NL_RESULT: (
        INTENT, CONFIDENCE, OPERATION, ENTITY, IDENTIFIER, VALIDATION, DURATION_MS, STAGES,
    ),
    EventType.EXECUTION_RESULT: (
        SUCCESS, MESSAGE, ENTITIES_AFFECTED, TOTAL_DURATION_MS, OPERATION, ENTITY,
    ),
    EventType.ERROR: (STAGE, ERROR_TYPE, ERROR, RECOVERABLE, CONTEXT),
    EventType.ORCH_PROMPT: (TASK_ID, TARGET, PROMPT_LENGTH, CONTEXT_TOKENS),
    EventType.IMPL_RESPONSE: (TASK_ID, SUCCESS, DURATION_MS, OUTPUT_LENGTH),
}

VALIDATION_PASSED: Final = "passed"
VALIDATION_FAILED: Final = "failed"

# The four NL pipeline stages whose confidences go into nl_result.stages.
NL_STAGES: Final = ("intent", "operation", "entity", "params")

# Where intent/operation/entity are unknown (a question, a failed parse).
UNKNOWN: Final = "UNKNOWN"


def normalize_operation(value: object) -> str | None:
    """Operations are upper-case (`DELETE`); older loggers wrote `delete`."""
    text = _enum_value(value)
    return text.upper() if text else None


def normalize_entity(value: object) -> str | None:
    """Entities are lower-case (`project`)."""
    text = _enum_value(value)
    return text.lower() if text else None


def normalize_intent(value: object) -> str | None:
    """Intents are upper-case (`COMMAND`, `QUESTION`)."""
    text = _enum_value(value)
    return text.upper() if text else None


def _enum_value(value: object) -> str | None:
    """The text of a str, an Enum member (by value) or anything printable; None if blank."""
    if type(value) is str:
        return value.strip() or None
    if value is None:
        return None
    text = str(getattr(value, "value", value)).strip()
    return text or None


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def format_ts(moment: datetime) -> str:
    """`ts` as written: UTC, microseconds always present, `Z`, so text order is time order."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_ts(text: str) -> datetime | None:
    """Read `ts` as an aware UTC datetime; accepts `Z` and `+00:00`, None if unreadable."""
    if not isinstance(text, str):
        return None
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc)
