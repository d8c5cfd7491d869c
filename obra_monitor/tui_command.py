"""`obra-monitor tui [PATH]`: the live event stream (the Textual app lives in `tui/`).

Textual is imported only when the command runs, so the other commands start fast.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import re
from pathlib import Path

from obra_monitor.config import CONFIG_ENV, AlertRules, load_alert_rules, resolve_log_path
from obra_monitor.errors import UsageError

_DURATION = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([smh]?)\s*")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "": 60}


def window_seconds(text: str) -> float:
    """argparse type of --window: `90s`, `10m`, `1h`, or a number of minutes."""
    match = _DURATION.fullmatch(text)
    seconds = float(match.group(1)) * _SECONDS[match.group(2)] if match else 0.0
    if seconds < 1:
        raise argparse.ArgumentTypeError(f"expected a duration like 90s, 10m or 1h (at least 1s), got {text!r}")
    return seconds


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "tui",
        help="watch the log live: event stream, sessions, alert banners, rolling latency stats",
        description=(
            "Open the live monitor on a production log: one colored line per event, "
            "following new events through rotation. Enter shows an event's JSON and its "
            "whole turn; 1-7 toggle event types; / searches; s shows the sessions panel "
            "(pick sessions to filter the stream); l the rolling latency stats (w: window or "
            "whole log); a live error or failed execution, or an alert rule of the config's "
            "monitoring.alerts section, raises a banner (a goes to it, x dismisses it); ? lists "
            "every key. A missing log file is waited for."
        ),
    )
    parser.add_argument("path", nargs="?", help="log file (default: from --config, else the default path)")
    parser.add_argument("--config", metavar="FILE",
                        help=f"application config file to take the log path and the alert rules "
                             f"(monitoring.alerts) from (default: ${CONFIG_ENV})")
    parser.add_argument("--window", type=window_seconds, metavar="DURATION",
                        help="rolling window of the latency panel and the alert rules, e.g. 90s, 10m, 1h "
                             "(default: the config's alerts.window_minutes, 5m)")
    parser.add_argument("--alert-history", action="store_true",
                        help="raise banners for the errors already in the log at startup too "
                             "(default: only count them in the status bar)")
    parser.add_argument("--bell", action="store_true", help="ring the terminal bell when a banner appears")
    parser.add_argument("--demo", action="store_true",
                        help="watch a simulated REPL instead: 30 days of history, then live traffic "
                             "(a temporary log, removed on exit)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    rules = alert_rules(args)
    if args.demo:
        if args.path:
            raise UsageError("--demo writes its own log: give no PATH with it")
        from obra_monitor.simulate import background_demo

        with background_demo() as path:
            return _watch(path, rules, args.alert_history)
    path = resolve_log_path(args.path, args.config)
    if path.is_dir():
        raise UsageError(f"{path}: is a directory, not a log file")
    return _watch(path, rules, args.alert_history)


def alert_rules(args: argparse.Namespace) -> AlertRules:
    """The config's monitoring.alerts (same file as the log path), --window and --bell applied."""
    rules = load_alert_rules(args.config or os.environ.get(CONFIG_ENV) or None)
    if args.window is not None:
        rules = dataclasses.replace(rules, window_minutes=args.window / 60)
    if args.bell:
        rules = dataclasses.replace(rules, bell=True)
    return rules


def _watch(path: Path, rules: AlertRules, alert_history: bool) -> int:
    from tui.app import MonitorApp

    MonitorApp(path, rules=rules, alert_history=alert_history).run()
    return 0
