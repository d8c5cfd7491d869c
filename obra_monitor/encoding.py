"""Turn an event dict into exactly one valid UTF-8 JSON line, whatever it holds.

The fast path is a single `orjson.dumps`. Only when that refuses (a lone
surrogate, an integer beyond 64 bits, nesting too deep) does the event go
through `sanitize`, which rebuilds it from JSON-safe parts. Either way the
caller gets one line ending in `\\n`, never an exception.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import date, datetime, time
from enum import Enum
from pathlib import PurePath
from typing import Any

import orjson

_OPTIONS = (
    orjson.OPT_APPEND_NEWLINE | orjson.OPT_UTC_Z | orjson.OPT_NAIVE_UTC | orjson.OPT_NON_STR_KEYS
)
_MAX_DEPTH = 32
_INT_LIMIT = 2**63


def encode_event(event: Mapping[str, Any]) -> bytes:
    try:
        return orjson.dumps(event, default=_fallback, option=_OPTIONS)
    except (orjson.JSONEncodeError, TypeError):
        return orjson.dumps(sanitize(event), option=_OPTIONS)


def truncate(text: str, limit: int) -> str:
    """Cut `text` to `limit` characters, saying how much was cut."""
    if len(text) <= limit:
        return text
    return text[:limit] + truncation_marker(len(text) - limit)


def truncation_marker(dropped: int) -> str:
    """The one marker for text cut short, by the logger's cap or the redactor's."""
    return f"…[truncated {dropped} chars]"


def sanitize(value: Any, depth: int = 0) -> Any:
    """A JSON-safe copy: strings valid UTF-8, numbers finite and in range, keys strings."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        return _valid_utf8(value)
    if isinstance(value, int):
        return value if -_INT_LIMIT <= value < _INT_LIMIT else str(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if depth >= _MAX_DEPTH:
        return "…[nested too deep]"
    if isinstance(value, Mapping):
        return {_valid_utf8(str(key)): sanitize(item, depth + 1) for key, item in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [sanitize(item, depth + 1) for item in value]
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    return sanitize(_fallback(value), depth + 1)


def _fallback(value: Any) -> Any:
    """orjson's `default`: how types JSON has no word for are written."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=repr)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).decode("utf-8", "replace")
    if isinstance(value, PurePath):
        return str(value)
    if isinstance(value, BaseException):
        return f"{type(value).__name__}: {value}"
    try:
        return str(value)
    except Exception:  # a broken __str__ must not lose the event
        return f"<unprintable {type(value).__name__}>"


def _valid_utf8(text: str) -> str:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        # Pairs of surrogates become the character they encode; lone ones U+FFFD.
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return text
