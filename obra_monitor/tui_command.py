"""`obra-monitor tui [PATH]`: the live event stream (the Textual app lives in `tui/`).

Textual is imported only when the command runs, so the other commands start fast.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from obra_monitor.config import resolve_log_path
from obra_monitor.errors import UsageError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "tui",
        help="watch the log live: colorized event stream, detail, filters and search",
        description=(
            "Open the live monitor on a production log: one colored line per event, "
            "following new events through rotation. Enter shows an event's JSON and its "
            "whole turn; 1-7 toggle event types; / searches; ? lists every key. A missing "
            "log file is waited for."
        ),
    )
    parser.add_argument("path", nargs="?", help="log file (default: from --config, else the default path)")
    parser.add_argument("--config", metavar="FILE", help="application config file to take the log path from")
    parser.add_argument("--demo", action="store_true",
                        help="watch a simulated REPL instead: 30 days of history, then live traffic "
                             "(a temporary log, removed on exit)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if args.demo:
        if args.path:
            raise UsageError("--demo writes its own log: give no PATH with it")
        from obra_monitor.simulate import background_demo

        with background_demo() as path:
            return _watch(path)
    path = resolve_log_path(args.path, args.config)
    if path.is_dir():
        raise UsageError(f"{path}: is a directory, not a log file")
    return _watch(path)


def _watch(path: Path) -> int:
    from tui.app import MonitorApp

    MonitorApp(path).run()
    return 0
