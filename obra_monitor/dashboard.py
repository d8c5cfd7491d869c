"""`obra-monitor dashboard`: the log's last 24 hours, 7 days and 30 days as one HTML page.

The page is one self-contained file: its data, its script, its styles and the
charting library (Chart.js, vendored in dashboard_assets/vendor/) are inside it,
and its Content-Security-Policy lets it load nothing, so it works offline and
makes no network request. The views are relative to the newest event in the
log, not to the clock, so an old log still shows its last day.

Every figure comes from stats.py: one pass over the log feeds a `Timeline`
(a Stats per hour), whose windows equal `analyze --since <newest - 24h>` etc.
and whose slices give the charts over time. What came from the log reaches the
page only as JSON inside `<script type="application/json">` with `<`, `>` and
`&` escaped, and the page's script puts it into the document with textContent
(or draws it on a canvas), never as HTML.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import os
import re
import sys
import tempfile
import webbrowser
from collections.abc import Callable
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path
from typing import Any

import orjson

from obra_monitor import events as ev
from obra_monitor.analyze import parse_since, reading_progress, require_log
from obra_monitor.arguments import positive_int
from obra_monitor.config import resolve_log_path
from obra_monitor.errors import UsageError
from obra_monitor.reader import EventScan, LogSet, Segment
from obra_monitor.stats import Selection, Stats, Timeline, aggregate, latency_summary

SCHEMA_VERSION = 1
# (key, label, hours, hours per point of its charts over time); each step divides the next.
VIEWS = (
    ("24h", "Last 24 hours", 24, 1),
    ("7d", "Last 7 days", 7 * 24, 6),
    ("30d", "Last 30 days", 30 * 24, 24),
)
HOURS = max(hours for _, _, hours, _ in VIEWS)
TAIL_BYTES = 256 << 10  # read this much of the newest file to find the newest event
ASSETS = ("dashboard.html", "dashboard.css", "dashboard.js", "vendor/chart.umd.min.js")
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")
_SOURCE_MAP = re.compile(r"\n//# sourceMappingURL=\S*\s*$")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "dashboard",
        help="write an HTML dashboard of the last 24h / 7d / 30d",
        description=(
            "Read the whole log set (rotated files included) and write one self-contained HTML "
            "file (works offline, loads nothing): a 24h / 7d / 30d switch relative to the newest "
            "event, headline figures, charts over time and by operation, intent, stage and "
            "confidence, and sortable tables of failure modes, slowest turns and the sessions "
            "with the most failures."
        ),
    )
    parser.add_argument("path", nargs="?", help="log file (default: from --config, else the default path)")
    parser.add_argument("--config", metavar="FILE", help="application config file to take the log path from")
    parser.add_argument("-o", "--output", metavar="FILE", default="dashboard.html",
                        help="where to write the page (default: dashboard.html)")
    parser.add_argument("--since", metavar="WHEN",
                        help="only events since then: 30m, 24h, 7d, 2w (before now) "
                             "or an ISO date/time (UTC if no offset)")
    parser.add_argument("--top", type=positive_int, default=10, metavar="N", help="rows in the tables (default 10)")
    parser.add_argument("--jobs", type=positive_int, default=None, metavar="N",
                        help="worker processes (default: one per CPU for logs over 32 MB)")
    parser.add_argument("--open", action="store_true", help="open the page in the web browser when written")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    path = resolve_log_path(args.path, args.config)
    since = parse_since(args.since) if args.since else None
    files = require_log(path)
    output = Path(args.output).expanduser()
    check_output(output)  # before reading a big log, not after
    with reading_progress(path, files) as progress:
        data = build_data(path, since=since, top=args.top, jobs=args.jobs, progress=progress)
    page = render_html(data)
    write_page(output, page)
    print(f"wrote {output} ({len(page.encode()) / 1024:,.0f} KB): {_describe(data)}")
    if args.open and not webbrowser.open(output.resolve().as_uri()):
        print(f"obra-monitor: could not start a web browser; open {output.resolve().as_uri()}", file=sys.stderr)
    return 0


def _describe(data: dict[str, Any]) -> str:
    if data["empty"]:
        return data["empty"]
    return ", ".join(f"{view['key']} {view['summary']['events']['total']:,} events" for view in data["views"])


# ---------------------------------------------------------------------------
# The data the page is built from


def build_data(path: str | os.PathLike[str], *, since: datetime | None = None, top: int = 10,
               jobs: int | None = None, progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """Everything the page shows, as JSON-ready data: one Stats summary per view and its series."""
    path = Path(path)
    selection = Selection(since=since)
    started = ev.utc_now()
    estimate = latest_ts(path)
    end = estimate or _EPOCH
    for attempt in range(2):
        result = aggregate(path, selection=selection, top=top, jobs=jobs, progress=progress,
                           make=lambda partial: Timeline(end, HOURS, top=top))
        timeline: Timeline = result.stats  # type: ignore[assignment]
        latest = ev.parse_ts(timeline.latest + "Z") if timeline.latest else None
        # An event newer than the end of the log, further back in it (or no time near its
        # end at all): read again, ending the views at that event. One newer than the moment
        # we started was written while we read (a live log): it is only counted.
        if attempt or latest is None or (estimate is not None and latest > started):
            break
        end = latest
    views = timeline.views([(hours, step) for _, _, hours, step in VIEWS], _read_window(top), _read_slice)
    data: dict[str, Any] = {
        "schema": SCHEMA_VERSION,
        "generated_at": _iso(ev.utc_now()),
        "source": {"path": str(path), "files": [str(f) for f in result.files], "bytes": result.bytes,
                   "malformed_lines": result.malformed},
        "filter": {"since": _iso(since) if since else None},
        "newest": None,
        "older_events": timeline.older,
        "newer_events": timeline.newer,
        "untimed_events": timeline.untimed,
        "views": [],
        "empty": None,
    }
    counted = views[-1]["window"]["summary"]["events"]["total"]
    if counted:
        data["newest"] = _iso(timeline.end)
    data["empty"] = None if counted else _why_empty(data, since)
    for (key, label, _hours, step), view in zip(VIEWS, views):
        series = view["series"]
        data["views"].append({
            "key": key, "label": label, "start": _iso(view["start"]), "end": _iso(timeline.end),
            "step_hours": step,
            **view["window"],
            "series": {"start": [_iso(start) for start, _ in series],
                       **{name: [point[name] for _, point in series] for name in _SERIES}},
        })
    return data


def _why_empty(data: dict[str, Any], since: datetime | None) -> str:
    untimed = data["untimed_events"]
    if untimed:
        return f"No event has a readable time ({untimed:,} event{'s' if untimed != 1 else ''} without one)."
    if since is not None:
        return f"No events since {_iso(since)}."
    malformed = data["source"]["malformed_lines"]
    return "The log is empty." + (f" ({malformed:,} malformed lines.)" if malformed else "")


def _read_window(top: int) -> Callable[[Stats], dict[str, Any]]:
    def read(stats: Stats) -> dict[str, Any]:
        return {"summary": stats.summary(top), "confidence_histogram": stats.confidence_histogram(),
                "sessions_with_most_failures": stats.sessions_with_most_failures(top)}
    return read


_SERIES = ("events", "errors", "executions", "failed_executions", "nl_p50", "nl_p95", "nl_p99")


def _read_slice(stats: Stats) -> dict[str, Any]:
    """The few figures of a slice, as Stats.summary() computes them (without the rest of it)."""
    nl = latency_summary(stats.nl_ms)
    return {"events": stats.events, "errors": stats.errors, "executions": stats.executions,
            "failed_executions": sum(failed for _total, _ok, failed in stats.operation_counts().values()),
            "nl_p50": nl["p50"], "nl_p95": nl["p95"], "nl_p99": nl["p99"]}


def latest_ts(path: str | os.PathLike[str], tail: int | None = None) -> datetime | None:
    """The newest `ts` near the end of the log set (the last `tail` bytes of its newest
    files that have any); None if there is none. build_data() checks it: an event newer
    than this one, further back in the log, makes it read the log again from that one."""
    tail = TAIL_BYTES if tail is None else tail
    with LogSet(path) as log_set:
        runs = log_set.segments(1)[0]
        for segment in reversed(runs):
            size = log_set.sizes[segment.file.id]
            scan = EventScan([Segment(segment.file, segment.fd, max(0, size - tail), None)])
            newest = None
            for batch in scan:
                for event in batch:
                    ts = event.get(ev.TS)
                    parsed = ev.parse_ts(ts) if isinstance(ts, str) else None
                    if parsed is not None and (newest is None or parsed > newest):
                        newest = parsed
            if newest is not None:
                return newest
    return None


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


# ---------------------------------------------------------------------------
# The page


def render_html(data: dict[str, Any]) -> str:
    """One self-contained page: template + styles + Chart.js + the page's script + the data."""
    template, style, app, chart = (_asset(name) for name in ASSETS)
    chart = _SOURCE_MAP.sub("\n", chart)  # no request for a .map, even with developer tools open
    parts = {
        "csp": "; ".join((
            "default-src 'none'",
            f"script-src {_sha256(chart)} {_sha256(app)}",
            f"style-src {_sha256(style)}",
            "img-src data:",
            "base-uri 'none'",
            "form-action 'none'",
        )),
        "style": style,
        "data": script_json(data),
        "chartjs": chart,
        "app": app,
    }
    # One pass: text put in is never searched for placeholders again.
    return _PLACEHOLDER.sub(lambda m: parts[m.group(1)], template)


def script_json(data: Any) -> str:
    """JSON safe inside <script type="application/json">: no `<`, `>` or `&` left to end it."""
    text = orjson.dumps(data).decode()
    return text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")


def _sha256(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def _asset(name: str) -> str:
    return (resources.files("obra_monitor") / "dashboard_assets" / name).read_text(encoding="utf-8")


# ---------------------------------------------------------------------------
# Writing


def check_output(output: Path) -> None:
    """A clear UsageError (exit 2) now if the page could not be written there later."""
    if output.is_dir():
        raise UsageError(f"-o {output}: is a directory; give a file name, e.g. {output / 'dashboard.html'}")
    parent = output.parent if str(output.parent) else Path(".")
    if not parent.is_dir():
        raise UsageError(f"-o {output}: no such directory: {parent}")
    try:
        fd, probe = tempfile.mkstemp(prefix=".obra-dashboard-", suffix=".tmp", dir=parent)
    except OSError as exc:
        raise UsageError(f"-o {output}: cannot write in {parent}: {exc.strerror or exc}") from None
    os.close(fd)
    os.unlink(probe)


def write_page(output: Path, page: str) -> None:
    """Write atomically (a temporary file renamed over the target), world-readable as umask allows."""
    parent = output.parent if str(output.parent) else Path(".")
    try:
        fd, temporary = tempfile.mkstemp(prefix=".obra-dashboard-", suffix=".tmp", dir=parent)
        try:
            umask = os.umask(0)
            os.umask(umask)
            os.fchmod(fd, 0o666 & ~umask)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(page)
            os.replace(temporary, output)
        except BaseException:
            try:
                os.unlink(temporary)
            except OSError:
                pass
            raise
    except OSError as exc:
        raise UsageError(f"-o {output}: cannot write: {exc.strerror or exc}") from None
