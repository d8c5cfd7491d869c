"""`obra-monitor analyze`: the report that answers the monitoring questions.

"What's the success rate for DELETE?" (Operations), "What's P95 NL latency?"
(Latency), "What are the top 5 failure modes?" (Top errors), and "Why did this
user's command fail?" (Recent failures, each with the `obra-monitor session`
command that shows its whole timeline). `--json` prints the same figures as one
JSON object whose keys are documented in docs/reference/analyze-json.md.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import orjson
from rich import box
from rich.console import Console, Group
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table
from rich.text import Text

from obra_monitor import events as ev
from obra_monitor.arguments import positive_int
from obra_monitor.config import resolve_log_path
from obra_monitor.errors import ObraMonitorError, UsageError
from obra_monitor.reader import rotated_set
from obra_monitor.render import clean_text, short_session
from obra_monitor.stats import Aggregate, Selection, aggregate

SCHEMA_VERSION = 1
PROGRESS_MIN_BYTES = 64 << 20  # show a progress bar for logs at least this big
_RELATIVE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "analyze",
        help="report success rates, latency percentiles, top failures",
        description=(
            "Read the whole log set (rotated files included) and report: success rate by "
            "operation, confidence by intent and NL stage, latency P50/P95/P99, error rate "
            "by stage, top failure modes, slowest turns and recent failures."
        ),
    )
    parser.add_argument("path", nargs="?", help="log file (default: from --config, else the default path)")
    parser.add_argument("--config", metavar="FILE", help="application config file to take the log path from")
    parser.add_argument("--since", metavar="WHEN",
                        help="only events since then: 30m, 24h, 7d, 2w (before now) or an ISO date/time (UTC if no offset)")
    parser.add_argument("--session", metavar="ID", help="only this session (a unique prefix is enough)")
    parser.add_argument("--json", action="store_true", help="print one JSON object (keys: docs/reference/analyze-json.md)")
    parser.add_argument("--top", type=positive_int, default=10, metavar="N", help="rows in the top-N tables (default 10)")
    parser.add_argument("--jobs", type=positive_int, default=None, metavar="N",
                        help="worker processes (default: one per CPU for logs over 32 MB)")
    parser.set_defaults(run=run)


def parse_since(text: str, now: datetime | None = None) -> datetime:
    """`30m`, `24h`, `7d`, `2w`, `90s` before now, or an ISO 8601 date/time (UTC if naive)."""
    now = now or ev.utc_now()
    match = _RELATIVE.fullmatch(text)
    if match:
        amount, unit = float(match.group(1)), match.group(2)
        return now - timedelta(**{_UNITS[unit]: amount})
    candidate = text.strip()
    if candidate.endswith(("Z", "z")):
        candidate = candidate[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(candidate)
    except ValueError:
        raise UsageError(
            f"--since {text!r}: expected a duration like 30m, 24h, 7d, 2w, or an ISO date/time "
            "like 2026-12-04 or 2026-12-04T18:00:00Z"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc)


def run(args: argparse.Namespace) -> int:
    path = resolve_log_path(args.path, args.config)
    since = parse_since(args.since) if args.since else None
    if args.session is not None and not args.session.strip():
        raise UsageError("--session: expected a session id or a prefix of one")
    files = require_log(path)
    selection = Selection(since=since, session=args.session)
    with reading_progress(path, files) as progress:
        result = aggregate(path, selection=selection, top=args.top, jobs=args.jobs, progress=progress)
    if args.session:
        _check_session(args.session, result)
    report = build_report(result, path, selection, args.top)
    if args.json:
        sys.stdout.write(orjson.dumps(report, option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        Console(highlight=False, emoji=False, markup=False).print(render_report(report))
    return 0


def require_log(path: Path) -> list[Path]:
    """The files of the log set; a clear UsageError (exit 2) when there are none."""
    files = rotated_set(path)
    if not files:
        if path.is_dir():
            raise UsageError(f"{path}: is a directory; give the log file (e.g. {path / 'production.jsonl'})")
        raise UsageError(f"{path}: no such log file (use PATH or --config; see 'obra-monitor config')")
    return files


@contextmanager
def reading_progress(path: Path, files: list[Path]) -> Iterator[Callable[[int, int], None] | None]:
    """A transient bar on stderr while a big log is read: yields the callback to feed it,
    or None when the log is small or stderr is not a terminal."""
    size = sum(f.stat().st_size for f in files if f.exists())
    if size < PROGRESS_MIN_BYTES or not sys.stderr.isatty():
        yield None
        return
    columns = (TextColumn("reading {task.description}"), BarColumn(), DownloadColumn(), TimeRemainingColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(clean_text(path.name), total=size)
        yield lambda done, total: bar.update(task, completed=done, total=total)


def _check_session(prefix: str, result: Aggregate) -> None:
    matched = sorted(result.stats.sessions)
    if len(matched) > 1:
        shown = "\n  ".join(matched[:20]) + ("\n  ..." if len(matched) > 20 else "")
        raise UsageError(f"--session {prefix!r} matches {len(matched)} sessions; give more of the id:\n  {shown}")
    if not matched:
        raise ObraMonitorError(f"no session starting with {prefix!r} in the log"
                               + (" (in the --since window)" if result.stats.events == 0 else ""))


def build_report(result: Aggregate, path: Path, selection: Selection, top: int) -> dict[str, Any]:
    """The JSON report: source and filter, then Stats.summary()."""
    report: dict[str, Any] = {
        "schema": SCHEMA_VERSION,
        "generated_at": ev.utc_now().isoformat().replace("+00:00", "Z"),
        "source": {"path": str(path), "files": [str(f) for f in result.files], "bytes": result.bytes,
                   "malformed_lines": result.malformed,
                   "malformed_examples": [
                       {"file": str(result.files[s.file]) if s.file < len(result.files) else None,
                        "problem": s.problem, "length": s.length,
                        "text": (s.text or b"")[:200].decode("utf-8", "replace")}
                       for s in result.samples
                   ]},
        "filter": {"since": selection.since.isoformat().replace("+00:00", "Z") if selection.since else None,
                   "session": selection.session},
    }
    report.update(result.stats.summary(top))
    return report


# ---------------------------------------------------------------------------
# Rendering (everything from the log goes through Text + clean_text: no markup)


def render_report(report: dict[str, Any]) -> Group:
    parts: list[Any] = [_header(report)]
    if report["events"]["total"] == 0:
        parts.append(Text("No events to report" + (" in this window or session." if _filtered(report) else
                                                   ": the log is empty.") +
                          (f" ({report['source']['malformed_lines']} malformed lines.)"
                           if report["source"]["malformed_lines"] else ""), style="yellow"))
        return Group(*parts)
    sections = [
        _operations(report), _latency(report), _confidence(report), _errors(report),
        _top_errors(report), _failed_executions(report), _slowest(report), _recent(report),
    ]
    for section in sections:
        if section is not None:
            parts += [Text(""), section]
    return Group(*parts)


def _filtered(report: dict[str, Any]) -> bool:
    return bool(report["filter"]["since"] or report["filter"]["session"])


def _header(report: dict[str, Any]) -> Text:
    source, events = report["source"], report["events"]
    text = Text()
    text.append("obra-monitor analyze  ", "bold")
    text.append(clean_text(source["path"]))
    files = len(source["files"])
    text.append(f"  ({files} file{'s' if files != 1 else ''}, {_size(source['bytes'])})\n", "dim")
    if _filtered(report):
        conditions = []
        if report["filter"]["since"]:
            conditions.append(f"since {report['filter']['since']}")
        if report["filter"]["session"]:
            conditions.append(f"session {clean_text(report['filter']['session'])}")
        text.append("filter: " + ", ".join(conditions) + "\n", "yellow")
    first, last = report["time_range"]["first"], report["time_range"]["last"]
    if first:
        text.append(f"from {clean_text(first)} to {clean_text(last)}\n", "dim")
    counts = ", ".join(f"{n:,} {clean_text(kind)}" for kind, n in events["by_type"].items())
    text.append(f"{events['total']:,} events", "bold")
    if counts:
        text.append(f" ({counts})")
    text.append(f"\n{report['sessions']['count']:,} sessions, {report['turns']:,} turns")
    if report["sessions"]["with_failures"]:
        text.append(f", {report['sessions']['with_failures']:,} sessions with failures")
    malformed = source["malformed_lines"]
    if malformed:
        text.append(f"\n{malformed:,} malformed line{'s' if malformed != 1 else ''} skipped", "yellow")
        for example in source["malformed_examples"][:3]:
            text.append(f"\n  {example['problem']}: ", "dim")
            text.append(clean_text(example["text"], 100), "dim")
    return text


def _table(title: str, *columns: str, right: tuple[int, ...] = (), no_wrap: tuple[int, ...] = ()) -> Table:
    table = Table(title=title, title_justify="left", title_style="bold", box=box.SIMPLE_HEAD,
                  show_edge=False, pad_edge=False)
    for index, column in enumerate(columns):
        table.add_column(column, justify="right" if index in right else "left", overflow="fold",
                         no_wrap=index in no_wrap)
    return table


def _when(ts: Any) -> str:
    parsed = ev.parse_ts(ts) if isinstance(ts, str) else None
    return parsed.strftime("%m-%d %H:%M:%S") if parsed else clean_text(ts or "-", 20)


def _operations(report: dict[str, Any]) -> Table | None:
    ops = report["operations"]
    if not ops:
        return None
    table = _table("Success rate by operation", "operation", "executions", "succeeded", "failed",
                   "success rate", right=(1, 2, 3, 4))
    for op, row in ops.items():
        table.add_row(Text(clean_text(op)), f"{row['total']:,}", f"{row['succeeded']:,}",
                      Text(f"{row['failed']:,}", "red" if row["failed"] else ""), _pct(row["success_rate"]))
    total = report["execution"]
    table.add_row(Text("all", "bold"), f"{total['total']:,}", f"{total['succeeded']:,}",
                  f"{total['failed']:,}", _pct(total["success_rate"]), end_section=True)
    validation = report["validation"]
    if validation["passed"] or validation["failed"]:
        table.caption = (f"validation: {validation['failed']:,} of {validation['passed'] + validation['failed']:,} "
                         f"parses failed ({_pct_text(validation['failure_rate'])})")
        table.caption_justify = "left"
    return table


def _latency(report: dict[str, Any]) -> Table | None:
    rows = [("NL processing", report["latency_ms"]["nl"]),
            ("execution (total)", report["latency_ms"]["execution"]),
            ("implementer", report["latency_ms"]["implementer"])]
    if not any(row["count"] for _, row in rows):
        return None
    table = _table("Latency (ms)", "what", "count", "P50", "P95", "P99", "max", "mean",
                   right=(1, 2, 3, 4, 5, 6))
    for name, row in rows:
        if row["count"]:
            table.add_row(name, f"{row['count']:,}", _ms(row["p50"]), Text(_ms(row["p95"]), "bold"),
                          _ms(row["p99"]), _ms(row["max"]), _ms(row["mean"]))
    table.caption = ("nl_result.duration_ms, execution_result.total_duration_ms, impl_response.duration_ms; "
                     "exact percentiles, linear interpolation")
    table.caption_justify = "left"
    return table


def _confidence(report: dict[str, Any]) -> Table | None:
    confidence = report["confidence"]
    if not confidence["by_intent"] and not confidence["by_stage"]:
        return None
    table = _table("NL confidence", "intent / stage", "results", "mean confidence", right=(1, 2))
    intents = list(confidence["by_intent"].items())
    for index, (intent, row) in enumerate(intents):
        table.add_row(Text(clean_text(intent)), f"{row['count']:,}", _num(row["mean"]),
                      end_section=index == len(intents) - 1)
    for stage, row in confidence["by_stage"].items():
        table.add_row(Text(f"stage: {clean_text(stage)}", "dim"), f"{row['count']:,}", _num(row["mean"]))
    return table


def _errors(report: dict[str, Any]) -> Table | None:
    errors = report["errors"]
    if not errors["by_stage"]:
        return None
    table = _table(f"Errors by stage ({errors['total']:,} errors)",
                   "stage", "errors", "per turn", right=(1, 2))
    for stage, row in errors["by_stage"].items():
        table.add_row(Text(clean_text(stage)), f"{row['count']:,}", _pct(row["rate"]))
    return table


def _top_errors(report: dict[str, Any]) -> Table | None:
    rows = report["top_errors"]
    if not rows:
        return None
    table = _table(f"Top {len(rows)} failure modes (error events)", "count", "stage", "error type", "message",
                   "latest", right=(0,), no_wrap=(1, 2, 4))
    for row in rows:
        table.add_row(f"{row['count']:,}", Text(clean_text(row["stage"] or "-")),
                      Text(clean_text(row["error_type"] or "-"), "red"), Text(clean_text(row["message"] or "-")),
                      _session_ref(row["last_session"], row["last_turn"]))
    return table


def _failed_executions(report: dict[str, Any]) -> Table | None:
    rows = report["failed_executions"]
    if not rows:
        return None
    table = _table("Failed executions", "count", "operation", "message", "latest", right=(0,), no_wrap=(1, 3))
    for row in rows:
        table.add_row(f"{row['count']:,}", Text(clean_text(row["operation"])),
                      Text(clean_text(row["message"] or "-")), _session_ref(row["last_session"], row["last_turn"]))
    return table


def _slowest(report: dict[str, Any]) -> Table | None:
    rows = report["slowest"]
    if not rows:
        return None
    table = _table("Slowest turns (execution total, ms)", "duration", "operation", "ok",
                   "input", "session", right=(0,), no_wrap=(0, 1, 4))
    for row in rows:
        ok = {True: Text("yes", "green"), False: Text("NO", "bold red")}.get(row["success"], Text("?"))
        table.add_row(_ms(row["duration_ms"]), Text(clean_text(row["operation"])), ok,
                      Text(clean_text(row["input"], 80) if row["input"] is not None else "-"),
                      _session_ref(row["session"], row["turn"]))
    return table


def _recent(report: dict[str, Any]) -> Group | None:
    rows = report["recent_failures"]
    if not rows:
        return None
    table = _table("Recent failures (newest first)", "time (UTC)", "what", "message", "session", no_wrap=(0, 3))
    seen: set[tuple[Any, Any]] = set()
    for row in rows:
        if row["turn"] is not None:  # an error and its failed execution: one row
            if (row["session"], row["turn"]) in seen:
                continue
            seen.add((row["session"], row["turn"]))
        if row["kind"] == ev.EventType.ERROR:
            what = f"error {row['stage'] or '-'} {row['error_type'] or ''}".strip()
        else:
            what = f"failed {row['operation'] or ''}".strip()
        table.add_row(Text(_when(row["ts"])), Text(clean_text(what), "red"),
                      Text(clean_text(row["message"] or "-", 120)), _session_ref(row["session"], row["turn"]))
    first = next((row["session"] for row in rows if row["session"]), None)
    hint = Text(no_wrap=True, overflow="ignore")
    if first:
        hint.append("Why did it fail? See the whole session, turn by turn:\n", "dim")
        hint.append(f"  obra-monitor session {clean_text(first)}", "bold")
    return Group(table, hint)


def _session_ref(session: Any, turn: Any) -> Text:
    if not session:
        return Text("-")
    ref = short_session(session)
    if isinstance(turn, int):
        ref += f" #{turn}"
    return Text(ref, "cyan")


def _pct(value: float | None) -> Text:
    if value is None:
        return Text("-", "dim")
    style = "green" if value >= 0.95 else "yellow" if value >= 0.8 else "red"
    return Text(_pct_text(value), style)


def _pct_text(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f}%"


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}" if value >= 100 else f"{value:,.1f}"


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"  # pragma: no cover
