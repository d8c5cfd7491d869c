"""obra-monitor: structured production logging and monitoring for NL command REPLs.

The host application needs only what is exported here; the CLI tools and the
TUI read the log the logger writes.
"""

from obra_monitor.config import LoggingSettings, load_settings
from obra_monitor.errors import ConfigError
from obra_monitor.events import EventType, Stage
from obra_monitor.logger import (
    LoggerStats,
    ProductionLogger,
    Turn,
    generate_session_id,
    get_production_logger,
    initialize_production_logger,
)
from obra_monitor.redaction import Redactor

__version__ = "0.1.0"

__all__ = [
    "ConfigError",
    "EventType",
    "LoggerStats",
    "LoggingSettings",
    "ProductionLogger",
    "Redactor",
    "Stage",
    "Turn",
    "generate_session_id",
    "get_production_logger",
    "initialize_production_logger",
    "load_settings",
]
