"""YAML -> typed, validated settings for `monitoring.production_logging` and `monitoring.alerts`.

The settings are frozen dataclasses whose fields *are* the schema: the
validator walks them, so a new key is one new field with its default, type
and (optionally) a bound in its metadata. Errors name the full dotted key and
what was expected.
"""

from __future__ import annotations

import dataclasses
import os
import re
import types
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar, get_args, get_origin, get_type_hints

import yaml

from obra_monitor.errors import ConfigError

SECTION = ("monitoring", "production_logging")
ALERTS_SECTION = ("monitoring", "alerts")
DEFAULT_LOG_PATH = "~/obra-runtime/logs/production.jsonl"
CONFIG_ENV = "OBRA_MONITOR_CONFIG"


def _minimum(bound: float, *, exclusive: bool = False) -> dict[str, Any]:
    return {"minimum": bound, "exclusive": exclusive}


@dataclass(frozen=True)
class EventToggles:
    user_input: bool = True
    nl_results: bool = True
    execution_results: bool = True
    errors: bool = True
    orchestrator_prompts: bool = False
    implementer_responses: bool = False


@dataclass(frozen=True)
class PrivacySettings:
    redact_pii: bool = True
    redact_secrets: bool = True
    redact_patterns: tuple[str, ...] = ()


@dataclass(frozen=True)
class RotationSettings:
    max_file_size_mb: float = field(default=100.0, metadata=_minimum(0, exclusive=True))
    # Files kept in all, the live one included: 10 x 100 MB = 1 GB.
    max_files: int = field(default=10, metadata=_minimum(1))


@dataclass(frozen=True)
class LoggingSettings:
    enabled: bool = True
    path: Path = Path(DEFAULT_LOG_PATH).expanduser()
    events: EventToggles = EventToggles()
    privacy: PrivacySettings = PrivacySettings()
    rotation: RotationSettings = RotationSettings()
    async_logging: bool = False
    # Async mode: the background writer joins queued lines into writes of up to this many bytes.
    buffer_size: int = field(default=1024, metadata=_minimum(1))
    # Longer string fields are cut and marked, so one pasted file cannot bloat the log.
    max_field_chars: int = field(default=8192, metadata=_minimum(64))

    @property
    def max_file_bytes(self) -> int:
        return max(1, int(self.rotation.max_file_size_mb * 1024 * 1024))


@dataclass(frozen=True)
class AlertRules:
    """`monitoring.alerts`: when `obra-monitor tui` raises a banner besides errors. None = rule off.

    The rate and latency rules look at the rolling window of event time ending at the
    newest event (the stats panel's window); `no_events_minutes` at the wall clock.
    """

    # The rolling window the rules (and the TUI's stats panel) look at; `tui --window` overrides.
    window_minutes: float = field(default=5.0, metadata=_minimum(0, exclusive=True))
    error_rate_per_minute: float | None = field(default=30.0, metadata=_minimum(0))
    nl_p95_ms: float | None = field(default=5000.0, metadata=_minimum(0))
    validation_failure_percent: float | None = field(default=20.0, metadata=_minimum(0))
    no_events_minutes: float | None = field(default=None, metadata=_minimum(0, exclusive=True))
    # The latency and validation rules wait for this many results in the window.
    min_samples: int = field(default=20, metadata=_minimum(1))
    bell: bool = False


Settings = TypeVar("Settings")


def settings_from_mapping(section: Mapping[str, Any] | None, source: str = "config") -> LoggingSettings:
    """Validate a `production_logging` mapping (as Obra passes it) into settings."""
    prefix = f"{source}: {'.'.join(SECTION)}"
    if section is None:
        return LoggingSettings()
    return _build(LoggingSettings, section, prefix)


def load_settings(config_file: str | os.PathLike[str]) -> LoggingSettings:
    """Read a whole application config file and validate its production_logging section."""
    document = read_config_file(config_file)
    return settings_from_mapping(section_of(document, SECTION, str(config_file)), str(config_file))


def alert_rules_from_mapping(section: Mapping[str, Any] | None, source: str = "config") -> AlertRules:
    """Validate a `monitoring.alerts` mapping into rules."""
    if section is None:
        return AlertRules()
    return _build(AlertRules, section, f"{source}: {'.'.join(ALERTS_SECTION)}")


def load_alert_rules(config_file: str | os.PathLike[str] | None) -> AlertRules:
    """The alert rules of a whole application config file (defaults without a file or section)."""
    if config_file is None:
        return AlertRules()
    document = read_config_file(config_file)
    return alert_rules_from_mapping(section_of(document, ALERTS_SECTION, str(config_file)), str(config_file))


def read_config_file(config_file: str | os.PathLike[str]) -> Mapping[str, Any]:
    """Parse a YAML file into a mapping; every failure is a ConfigError naming the file."""
    path = Path(config_file).expanduser()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read config file: {exc}") from None
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{path}: invalid YAML{where}: {problem}") from None
    if document is None:
        return {}
    if not isinstance(document, Mapping):
        raise ConfigError(f"{path}: expected a mapping at the top level, got {_kind(document)}")
    return document


def section_of(document: Mapping[str, Any], keys: tuple[str, ...], source: str) -> Mapping[str, Any] | None:
    """The nested mapping at `keys`, None when absent; a non-mapping on the way is an error."""
    node: Any = document
    for depth, key in enumerate(keys):
        if key not in node or node[key] is None:
            return None
        node = node[key]
        if not isinstance(node, Mapping):
            dotted = ".".join(keys[: depth + 1])
            raise ConfigError(f"{source}: {dotted}: expected a mapping, got {_kind(node)}")
    return node


def resolve_log_path(path: str | None, config_file: str | None) -> Path:
    """The log the CLI tools read: explicit PATH, else the config's path, else the default."""
    if path:
        return Path(path).expanduser()
    config_file = config_file or os.environ.get(CONFIG_ENV)
    if config_file:
        return load_settings(config_file).path
    return LoggingSettings().path


def _build(cls: type[Settings], values: Mapping[str, Any], prefix: str) -> Settings:
    if not isinstance(values, Mapping):
        raise ConfigError(f"{prefix}: expected a mapping, got {_kind(values)}")
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = [str(key) for key in values if key not in fields]
    if unknown:
        known = ", ".join(fields)
        raise ConfigError(f"{prefix}.{unknown[0]}: unknown key (expected one of: {known})")
    hints = get_type_hints(cls)
    kwargs = {
        name: _convert(hints[name], values[name], f"{prefix}.{name}", fields[name].metadata)
        for name in fields
        if name in values
    }
    return cls(**kwargs)


def _convert(hint: Any, value: Any, key: str, metadata: Mapping[str, Any]) -> Any:
    nullable = ""
    if isinstance(hint, types.UnionType) and type(None) in get_args(hint):  # `float | None`: null = off
        if value is None:
            return None
        (hint,) = [arg for arg in get_args(hint) if arg is not type(None)]
        nullable = " (or null: off)"
    if dataclasses.is_dataclass(hint):
        return _build(hint, {} if value is None else value, key)
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{key}: expected true or false, got {_show(value)}")
        return value
    if hint is int or hint is float:
        number_ok = isinstance(value, (int, float)) if hint is float else isinstance(value, int)
        if isinstance(value, bool) or not number_ok:
            expected = "a number" if hint is float else "a whole number"
            raise ConfigError(f"{key}: expected {expected}{nullable}, got {_show(value)}")
        _check_minimum(value, key, metadata)
        return hint(value)
    if hint is Path:
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(f"{key}: expected a file path, got {_show(value)}")
        return Path(value).expanduser()
    if get_origin(hint) is tuple and get_args(hint)[0] is str:
        return _pattern_list(value, key)
    raise TypeError(f"no converter for {hint!r}")  # a schema bug, not a user error


def _pattern_list(value: Any, key: str) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise ConfigError(f"{key}: expected a list of regular expressions, got {_show(value)}")
    for index, pattern in enumerate(value):
        if not isinstance(pattern, str):
            raise ConfigError(f"{key}[{index}]: expected a regular expression string, got {_show(pattern)}")
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ConfigError(f"{key}[{index}]: invalid regular expression {pattern!r}: {exc}") from None
    return tuple(value)


def _check_minimum(value: float, key: str, metadata: Mapping[str, Any]) -> None:
    if "minimum" not in metadata:
        return
    bound, exclusive = metadata["minimum"], metadata["exclusive"]
    if value < bound or (exclusive and value == bound):
        relation = "greater than" if exclusive else "at least"
        raise ConfigError(f"{key}: expected a number {relation} {bound:g}, got {_show(value)}")


def _kind(value: Any) -> str:
    names = {dict: "a mapping", list: "a list", str: "a string", bool: "a boolean", int: "a number",
             float: "a number"}
    return names.get(type(value), type(value).__name__)


def _show(value: Any) -> str:
    if isinstance(value, (Mapping, list)):
        return _kind(value)
    return repr(value)
