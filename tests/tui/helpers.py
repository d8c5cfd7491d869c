"""Shared by the TUI tests: an app around a log file, and waiting for a condition."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from textual.geometry import Region
from textual.pilot import Pilot
from textual.widget import Widget

from obra_monitor import events as ev
from tests.helpers_log import SESSION_A, SESSION_B, event
from tui.app import MonitorApp
from tui.bars import StatusBar, TypeBar

SIZE = (140, 24)


def make_app(path: Path, **options: object) -> MonitorApp:
    """The app as tests use it: no file watcher (tests poll), history in this process."""
    options.setdefault("watch_files", False)
    options.setdefault("processes", 0)
    return MonitorApp(path, **options)  # type: ignore[arg-type]


async def until(pilot: Pilot, condition: Callable[[], bool], what: str, attempts: int = 500) -> None:
    """Let the app run until `condition()` holds; fail (naming `what`) after `attempts` turns."""
    for _ in range(attempts):
        if condition():
            return
        await pilot.pause(0.01)
    raise AssertionError(f"timed out waiting for {what}")


async def loaded(pilot: Pilot) -> None:
    app = pilot.app
    assert isinstance(app, MonitorApp)
    await until(pilot, lambda: app.event_log.loaded and app.stream.shown == len(app.event_log.index),
                "the history to load")
    await pilot.pause()


def screen_lines(app: MonitorApp) -> list[str]:
    """The stream rows on screen, as the user reads them."""
    return app.stream.rendered_lines()


def widget_text(widget: Widget) -> str:
    """The text a widget shows on screen, line by line."""
    strips = widget.render_lines(Region(0, 0, widget.size.width, widget.size.height))
    return "\n".join(strip.text.rstrip() for strip in strips)


def status_line(app: MonitorApp) -> str:
    """What the status bar shows."""
    return app.query_one(StatusBar).content.plain  # type: ignore[union-attr]


def types_line(app: MonitorApp) -> str:
    """What the type-filter bar shows."""
    return app.query_one(TypeBar).content.plain  # type: ignore[union-attr]


def conversation(turns: int, start: int = 1, session: str = SESSION_A, minute: int = 0) -> list[dict]:
    """`turns` complete turns of one session: input, nl_result, execution_result (fixed times)."""
    U, N, X = ev.EventType.USER_INPUT, ev.EventType.NL_RESULT, ev.EventType.EXECUTION_RESULT
    out = []
    for turn in range(start, start + turns):
        second = (turn - start) * 3
        stamp = f"2026-12-04T10:{minute + second // 60:02d}:{second % 60:02d}"
        out += [
            event(U, session, turn, f"{stamp}.100000Z", input=f"show task {turn}"),
            event(N, session, turn, f"{stamp}.600000Z", intent="COMMAND", confidence=0.93,
                  operation="QUERY", entity="task", identifier=str(turn), validation="passed",
                  duration_ms=500.0 + turn + minute * 100),
            event(X, session, turn, f"{stamp}.900000Z", success=True, message=f"Found task {turn}",
                  entities_affected={"tasks": 1}, total_duration_ms=800.0 + turn + minute * 100),
        ]
    return out


__all__ = ["SESSION_A", "SESSION_B", "SIZE", "conversation", "loaded", "make_app", "screen_lines",
           "status_line", "types_line", "until", "widget_text"]
