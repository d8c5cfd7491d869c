"""`obra-monitor`: one entry point, one module per subcommand.

Each command module exposes `register(subparsers)`, which adds its parser and
sets `run=<function(args) -> int>`. Errors the user can fix are raised as
`ObraMonitorError` and become one line on stderr plus an exit code (2 for
usage and config problems), never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from obra_monitor import analyze, config_command, dashboard, example_repl, session, simulate, tail, tui_command
from obra_monitor.errors import ObraMonitorError

COMMANDS = (config_command, analyze, session, tail, tui_command, dashboard, simulate, example_repl)


class _Parser(argparse.ArgumentParser):
    """argparse exits 2 on bad usage already; this only makes the message say what to run."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: error: {message}\nRun '{self.prog} --help' for details.\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="obra-monitor",
        description="Production monitoring for interactive natural-language command REPLs.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    subparsers.required = True
    for command in COMMANDS:
        command.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except ObraMonitorError as exc:
        print(f"obra-monitor: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # `obra-monitor ... | head`: the reader left; that is not an error worth a traceback.
        sys.stderr.close()
        return 0
