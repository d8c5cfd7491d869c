"""obra-monitor: structured production logging and monitoring for NL command REPLs."""

__version__ = "0.1.0"
