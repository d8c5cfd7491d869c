"""Errors the command line turns into a message and an exit code, never a traceback."""

from __future__ import annotations


class ObraMonitorError(Exception):
    """A problem the user can fix; `str()` is the whole message."""

    exit_code = 1


class UsageError(ObraMonitorError):
    """Bad arguments or a missing input file."""

    exit_code = 2


class ConfigError(UsageError):
    """A config file that cannot be read or does not validate; names the key."""
