"""`obra-monitor config [FILE]`: validate a config file and print the effective settings."""

from __future__ import annotations

import argparse
import dataclasses
import os
from pathlib import Path
from typing import Any

import yaml

from obra_monitor.config import ALERTS_SECTION, CONFIG_ENV, SECTION, LoggingSettings, load_alert_rules, load_settings


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "config",
        help="validate a config file and print the effective logging settings and alert rules",
        description=(
            "Validate the monitoring.production_logging and monitoring.alerts sections of an "
            f"application config file (default: ${CONFIG_ENV}, else built-in defaults) and print "
            "the settings in effect, defaults filled in. Exits 2 when the file is invalid."
        ),
    )
    parser.add_argument("file", nargs="?", help="application config file (YAML)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    config_file = args.file or os.environ.get(CONFIG_ENV)
    settings = load_settings(config_file) if config_file else LoggingSettings()
    alerts = load_alert_rules(config_file)
    source = config_file or "built-in defaults"
    print(f"# effective settings from {source}")
    nested: dict[str, Any] = {SECTION[1]: _plain(settings), ALERTS_SECTION[1]: _plain(alerts)}
    print(yaml.safe_dump({SECTION[0]: nested}, sort_keys=False), end="")
    return 0


def _plain(settings: Any) -> dict[str, Any]:
    def convert(value: Any) -> Any:
        if isinstance(value, Path):
            return str(value)
        if isinstance(value, tuple):
            return list(value)
        if isinstance(value, dict):
            return {key: convert(item) for key, item in value.items()}
        return value

    return convert(dataclasses.asdict(settings))
