"""Tell the app when the log may have changed: watchfiles on the log's directory.

The directory is watched, not the file: after a rotation (a rename) or a delete
a watch on the file goes silent, while the directory reports the new file. The
watch wakes within `step` ms of a change and groups a burst for at most
`debounce` ms, so an append shows up in a few tens of milliseconds and a heavy
writer costs at most 1000/debounce wake-ups a second. Every `timeout_ms`
without a change `changed()` is called anyway (a safety net: some filesystems,
network mounts for one, do not report changes). A directory that does not
exist yet is waited for.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import watchfiles

DEBOUNCE_MS = 20
STEP_MS = 10
TIMEOUT_MS = 1000


def log_filter(path: Path) -> Callable[[watchfiles.Change, str], bool]:
    """Changes to the log and its rotated files (`x.jsonl`, `x.jsonl.1`), not its lock file."""
    name = path.name

    def ours(_change: watchfiles.Change, changed: str) -> bool:
        changed_name = Path(changed).name
        return changed_name.startswith(name) and not changed_name.endswith(".lock")

    return ours


async def watch(path: Path, changed: Callable[[], None], stop: asyncio.Event, *,
                debounce: int = DEBOUNCE_MS, step: int = STEP_MS, timeout_ms: int = TIMEOUT_MS) -> None:
    """Call `changed()` on every change to the log's directory until `stop` is set."""
    directory = path.parent
    ours = log_filter(path)
    while not stop.is_set():
        changed()
        if not directory.is_dir():
            try:
                await asyncio.wait_for(stop.wait(), timeout_ms / 1000)
            except asyncio.TimeoutError:
                pass
            continue
        try:
            async for _changes in watchfiles.awatch(
                directory, watch_filter=ours, debounce=debounce, step=step, stop_event=stop,
                rust_timeout=timeout_ms, yield_on_timeout=True, recursive=False,
            ):
                changed()
                if not directory.is_dir():
                    break
        except (FileNotFoundError, RuntimeError, OSError):
            # The directory went away under the watcher: wait for it again.
            await asyncio.sleep(timeout_ms / 1000)
