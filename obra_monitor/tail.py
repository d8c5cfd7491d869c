"""`obra-monitor tail`: the live event stream, one colored line per event.

Shows the last N events, then follows the log through rotation (watchfiles
watches the directory; a one-second timeout re-polls in case a change event is
missed). Failures stand out, and ring the terminal bell with --bell. Output is
plain text when stdout is not a terminal or NO_COLOR is set; --json passes the
raw lines through unchanged, for jq. A missing log is waited for.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import IO, Any

import watchfiles
from rich.console import Console

from obra_monitor import events as ev
from obra_monitor.arguments import whole_number
from obra_monitor.config import resolve_log_path
from obra_monitor.errors import UsageError
from obra_monitor.reader import LogReader, Record
from obra_monitor.render import event_line, is_alert, malformed_line

KNOWN_TYPES = tuple(kind.value for kind in ev.EventType)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "tail",
        help="follow the log live, one colored line per event",
        description=(
            "Print the last events of the log, then follow it through rotation like "
            "'tail -F'. A missing log file is waited for. Failures (error events, failed "
            "executions, implementer responses and validations) stand out."
        ),
    )
    parser.add_argument("path", nargs="?", help="log file (default: from --config, else the default path)")
    parser.add_argument("--config", metavar="FILE", help="application config file to take the log path from")
    parser.add_argument("--session", metavar="ID", help="only events of sessions starting with ID")
    parser.add_argument("--type", dest="types", metavar="T", action="append", default=[],
                        help=f"only events of this type (repeatable): {', '.join(KNOWN_TYPES)}")
    parser.add_argument("--errors-only", action="store_true", help="only failures")
    parser.add_argument("--json", action="store_true", help="print the raw JSON lines (for jq)")
    parser.add_argument("--no-follow", action="store_true", help="print the last events and exit")
    parser.add_argument("--bell", action="store_true", help="ring the terminal bell (on stderr) on failures")
    parser.add_argument("-n", "--lines", type=whole_number(0), default=10, metavar="N",
                        help="how many past events to show first (default 10)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, stop: threading.Event | None = None) -> int:
    path = resolve_log_path(args.path, args.config)
    for kind in args.types:
        if kind not in KNOWN_TYPES:
            print(f"obra-monitor: note: {kind!r} is not a known event type "
                  f"({', '.join(KNOWN_TYPES)}); showing only events of that type", file=sys.stderr)
    accept = make_filter(args.types, args.session, args.errors_only)
    printer = Printer(sys.stdout, json_mode=args.json, bell=args.bell)
    reader = LogReader(path, start="end", keep_text=args.json)
    try:
        if not reader.exists:
            if args.no_follow:
                raise UsageError(f"{path}: no such log file")
            print(f"obra-monitor: waiting for {path} to appear (Ctrl-C to stop)", file=sys.stderr)
        else:
            printer.emit(reader.backlog(args.lines, accept))
        if args.no_follow:
            printer.emit(record for record in reader.poll() if accept(record))
            return 0
        follow(reader, lambda records: printer.emit(r for r in records if accept(r)), stop)
        return 0
    except BrokenPipeError:
        # `obra-monitor tail | head`: the reader left. Point stdout at /dev/null so the
        # interpreter's final flush does not complain, and end quietly.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    finally:
        reader.close()


def make_filter(types: Iterable[str], session: str | None, errors_only: bool) -> Callable[[Record], bool]:
    """The --type/--session/--errors-only choice; malformed lines pass only without filters."""
    wanted = frozenset(types)
    filtering = bool(wanted or session or errors_only)

    def accept(record: Record) -> bool:
        event = record.event
        if event is None:
            return not filtering
        if wanted and event.get(ev.TYPE) not in wanted:
            return False
        if session:
            value = event.get(ev.SESSION)
            if not isinstance(value, str) or not value.startswith(session):
                return False
        return not errors_only or is_alert(event)

    return accept


def follow(reader: LogReader, handle: Callable[[list[Record]], None],
           stop: threading.Event | None = None, *, timeout_ms: int = 1000) -> None:
    """Call handle(new records) whenever the log's directory changes, until `stop` is set.

    The directory is watched with watchfiles (a missing directory is waited for);
    every `timeout_ms` without a change the log is polled anyway.
    """
    stop = stop or threading.Event()
    directory = reader.path.parent
    name = reader.path.name

    def ours(_change: watchfiles.Change, changed: str) -> bool:
        changed_name = Path(changed).name
        return changed_name.startswith(name) and not changed_name.endswith(".lock")

    while not stop.is_set():
        handle(reader.poll())
        if not directory.is_dir():
            stop.wait(timeout_ms / 1000)
            continue
        for _changes in watchfiles.watch(
            directory, watch_filter=ours, debounce=200, step=20, stop_event=stop,
            rust_timeout=timeout_ms, yield_on_timeout=True, recursive=False,
        ):
            handle(reader.poll())
            if not directory.is_dir():
                break


class Printer:
    """Writes records to a stream: colored, plain, or raw JSON lines."""

    def __init__(self, stream: IO[str], *, json_mode: bool = False, bell: bool = False,
                 bell_stream: IO[str] | None = None, plain: bool | None = None) -> None:
        self.stream = stream
        self.json_mode = json_mode
        self.bell = bell
        self.bell_stream = bell_stream or sys.stderr
        if plain is None:
            plain = not _isatty(stream) or bool(os.environ.get("NO_COLOR"))
        self.plain = plain
        self.console = None if plain else Console(file=stream, highlight=False, emoji=False,
                                                   markup=False, soft_wrap=False)
        self.skipped = 0

    def emit(self, records: Iterable[Record]) -> None:
        wrote = False
        for record in records:
            self._write(record)
            wrote = True
            if self.bell and record.event is not None and is_alert(record.event):
                self.bell_stream.write("\a")
                self.bell_stream.flush()
        if wrote:
            self.stream.flush()

    def _write(self, record: Record) -> None:
        event = record.event
        if self.json_mode:
            if event is None:
                self.skipped += 1
                print(f"obra-monitor: skipped a malformed line ({record.problem})", file=sys.stderr)
                return
            raw: Any = record.text
            text = raw.decode("utf-8", "replace") if raw is not None else _dumps(event)
            self.stream.write(text.rstrip("\r") + "\n")
            return
        line = event_line(event) if event is not None else malformed_line(record.text or b"", record.problem)
        if self.console is None:
            self.stream.write(line.plain + "\n")
        else:
            self.console.print(line)


def _dumps(event: dict[str, Any]) -> str:
    import orjson

    return orjson.dumps(event).decode()


def _isatty(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
