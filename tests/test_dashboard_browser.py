"""The dashboard in a real browser: headless Chromium, network off, driven over the DevTools protocol.

Chromium (Debian: `apt-get install chromium`) is started with
`--remote-debugging-pipe`, so no driver, no port and no extra Python package
is needed: DevTools messages are NUL-terminated JSON on file descriptors 3 and 4.
The page is opened from a file with network emulation set to offline, and the
test checks what a person would: the charts are drawn, nothing is logged to the
console, nothing is requested but the file itself, the 24h/7d/30d switch
changes the figures, a user's `<script>` is shown as text and runs nowhere, a
table sorts when its header is clicked. It saves a screenshot of each view
(their paths are printed; run pytest with -s to see them).

Skipped, saying why, only when no Chromium is installed. OBRA_CHROMIUM names
another Chromium-family binary.
"""

from __future__ import annotations

import base64
import fcntl
import itertools
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest

from obra_monitor.cli import main
from tests.helpers_log import write_log
from tests.test_dashboard import HTML_ERROR, INJECTION, fixture_events

CHROMIUM = os.environ.get("OBRA_CHROMIUM") or next(
    (found for name in ("chromium", "chromium-browser", "google-chrome", "chrome")
     if (found := shutil.which(name))), None)

pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="no Chromium found (apt-get install chromium, or set OBRA_CHROMIUM): the page is not checked in a browser",
)

FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--no-default-browser-check",
    "--disable-extensions", "--disable-default-apps", "--mute-audio", "--hide-scrollbars", "--disable-dev-shm-usage",
    "--remote-debugging-pipe",
)
WIDTH = 1400
TIMEOUT = 30.0
CHARTS = ("chart-volume", "chart-latency", "chart-operations", "chart-stages", "chart-confidence", "chart-histogram")


class Browser:
    """Just enough of the DevTools protocol over a pipe: commands, events, one page."""

    def __init__(self, profile: Path) -> None:
        commands, self._to_browser = os.pipe()
        self._from_browser, replies = os.pipe()
        # bash puts them on fds 3 (commands) and 4 (replies) and starts Chromium with them there.
        keep = [fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10) for fd in (commands, replies)]
        os.close(commands)
        os.close(replies)
        wiring = f'exec "$0" "$@" 3<&{keep[0]} 4>&{keep[1]} {keep[0]}<&- {keep[1]}>&-'
        self.process = subprocess.Popen(
            ["bash", "-c", wiring, CHROMIUM, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, pass_fds=keep,
        )
        for fd in keep:
            os.close(fd)
        self._ids = itertools.count(1)
        self._buffer = b""
        self.events: list[dict[str, Any]] = []
        self.session: str | None = None
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.call(f"{domain}.enable")
        self.call("Network.emulateNetworkConditions",
                  {"offline": True, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1})
        self.resize(900)

    # -- protocol ---------------------------------------------------------------

    def _send(self, message: dict[str, Any]) -> None:
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")

    def _receive(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._from_browser], [], [], left)[0]:
                raise TimeoutError("no answer from Chromium")
            chunk = os.read(self._from_browser, 1 << 20)
            if not chunk:
                raise RuntimeError("Chromium closed the pipe")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def call(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        ident = next(self._ids)
        message: dict[str, Any] = {"id": ident, "method": method, "params": params or {}}
        if self.session is not None and not method.startswith("Target."):
            message["sessionId"] = self.session
        self._send(message)
        deadline = time.monotonic() + TIMEOUT
        while True:
            reply = self._receive(deadline)
            if reply.get("id") == ident:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            if "method" in reply:
                self._event(reply)

    def _event(self, event: dict[str, Any]) -> None:
        self.events.append(event)
        if event["method"] == "Page.javascriptDialogOpening":  # answer it, or the page hangs
            self._send({"id": next(self._ids), "method": "Page.handleJavaScriptDialog",
                        "params": {"accept": True}, "sessionId": self.session})

    def pump(self, seconds: float) -> None:
        """Collect the events that arrive within `seconds`."""
        deadline = time.monotonic() + seconds
        try:
            while True:
                message = self._receive(deadline)
                if "method" in message:
                    self._event(message)
        except TimeoutError:
            pass

    # -- what a test does ---------------------------------------------------------

    def js(self, expression: str) -> Any:
        result = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                                "awaitPromise": True})
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def open(self, url: str) -> None:
        self.call("Page.navigate", {"url": url})
        deadline = time.monotonic() + TIMEOUT
        ready = "document.readyState === 'complete' && document.body && document.body.dataset.ready === 'true'"
        while not self.js(ready):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{url} did not finish rendering")
            self.pump(0.1)

    def resize(self, height: int) -> None:
        self.call("Emulation.setDeviceMetricsOverride",
                  {"width": WIDTH, "height": height, "deviceScaleFactor": 1, "mobile": False})

    def click(self, selector: str) -> None:
        """A real mouse click (pressed and released) in the middle of the element."""
        box = self.js(f"""(() => {{ const e = document.querySelector({json.dumps(selector)});
            e.scrollIntoView({{block: 'center'}}); const r = e.getBoundingClientRect();
            return [r.left + r.width / 2, r.top + r.height / 2]; }})()""")
        for kind in ("mousePressed", "mouseReleased"):
            self.call("Input.dispatchMouseEvent", {"type": kind, "x": box[0], "y": box[1], "button": "left",
                                                   "clickCount": 1})
        self.pump(0.05)

    def screenshot(self, path: Path) -> Path:
        height = self.js("Math.ceil(document.documentElement.scrollHeight)")
        self.resize(height)
        self.pump(0.2)
        data = self.call("Page.captureScreenshot", {"format": "png"})["data"]
        self.resize(900)
        path.write_bytes(base64.b64decode(data))
        return path

    def problems(self) -> list[str]:
        """Console errors and warnings, uncaught exceptions, browser log errors (CSP violations too)."""
        found = []
        for event in self.events:
            method, params = event["method"], event.get("params", {})
            if method == "Runtime.exceptionThrown":
                found.append(f"exception: {params['exceptionDetails'].get('exception', {}).get('description')}")
            elif method == "Runtime.consoleAPICalled" and params["type"] in ("error", "warning", "assert"):
                found.append(f"console.{params['type']}: {[a.get('value') for a in params['args']]}")
            elif method == "Log.entryAdded" and params["entry"]["level"] in ("error", "warning"):
                found.append(f"log {params['entry']['level']}: {params['entry']['text']}")
        return found

    def dialogs(self) -> list[str]:
        return [e["params"]["message"] for e in self.events if e["method"] == "Page.javascriptDialogOpening"]

    def requests(self) -> list[str]:
        return [e["params"]["request"]["url"] for e in self.events if e["method"] == "Network.requestWillBeSent"]

    def close(self) -> None:
        try:
            self._send({"id": next(self._ids), "method": "Browser.close"})
            self.process.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            self.process.kill()
            self.process.wait()
        finally:
            os.close(self._to_browser)
            os.close(self._from_browser)


@pytest.fixture
def browser(tmp_path: Path):
    chrome = Browser(tmp_path / "profile")
    try:
        yield chrome
    finally:
        chrome.close()


@pytest.fixture(scope="module")
def shots() -> Path:
    """Screenshots go here (kept after the run, to look at)."""
    return Path(tempfile.mkdtemp(prefix="obra-dashboard-shots-"))


def make_page(tmp_path: Path, events: list[Any]) -> Path:
    log = write_log(tmp_path / "production.jsonl", events)
    out = tmp_path / "dashboard.html"
    assert main(["dashboard", str(log), "-o", str(out)]) == 0
    return out


def tile(browser: Browser, label: str) -> str:
    return browser.js(f"""[...document.querySelectorAll('#tiles .tile')]
        .find(t => t.querySelector('.label').textContent === {json.dumps(label)})
        .querySelector('.value').textContent""")


def column(browser: Browser, table: str, index: int) -> list[str]:
    return browser.js(f"[...document.querySelectorAll('#{table} tbody tr')].map(r => r.cells[{index}].textContent)")


def test_dashboard_in_chromium(browser, tmp_path, shots, capsys):
    page = make_page(tmp_path, fixture_events())
    browser.open(page.as_uri())

    # Charts drawn: a Chart.js chart on every canvas, with pixels on it.
    for chart in CHARTS:
        drawn = browser.js(f"""(() => {{ const c = document.getElementById('{chart}');
            const chart = Chart.getChart(c); if (!chart || c.hidden) return 0;
            const pixels = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
            let painted = 0; for (let i = 3; i < pixels.length; i += 4) if (pixels[i]) painted++;
            return painted; }})()""")
        assert drawn > 1000, f"{chart} is not drawn"
    assert browser.js("document.querySelectorAll('.nodata').length") == 0

    # The 24h view's figures, then the switch.
    assert browser.js("document.body.dataset.view") == "24h"
    assert (tile(browser, "events"), tile(browser, "success rate"), tile(browser, "NL latency P50")) == \
        ("10", "50.0%", "200 ms")
    shot_24h = browser.screenshot(shots / "dashboard-24h.png")
    browser.click("#views button[data-view='7d']")
    assert browser.js("document.body.dataset.view") == "7d"
    assert browser.js("document.querySelector(\"#views [data-view='7d']\").getAttribute('aria-pressed')") == "true"
    assert tile(browser, "events") == "17"
    assert browser.js("Chart.getChart(document.getElementById('chart-volume')).data.labels.length") == 28
    browser.click("#views button[data-view='30d']")
    assert tile(browser, "events") == "20"
    assert browser.js("Chart.getChart(document.getElementById('chart-volume')).data.labels.length") == 30
    shot_30d = browser.screenshot(shots / "dashboard-30d.png")
    browser.click("#views button[data-view='24h']")
    assert tile(browser, "events") == "10"

    # The user's <script> is text in the slowest-operations table, and ran nowhere.
    assert INJECTION in column(browser, "table-slowest", 3)
    browser.click("#views button[data-view='7d']")
    assert HTML_ERROR in column(browser, "table-errors", 4)
    assert browser.js("document.querySelectorAll('script').length") == 3
    assert browser.js("document.querySelectorAll('img').length") == 0
    assert browser.dialogs() == []

    # Tables sort when a header is clicked: numbers biggest first, then the other way.
    browser.click("#views button[data-view='30d']")
    durations = lambda: [float(text.replace(",", "")) for text in column(browser, "table-slowest", 0)]  # noqa: E731
    assert durations() == sorted(durations(), reverse=True)
    browser.click("#table-slowest th:nth-child(1)")
    assert browser.js("document.querySelector('#table-slowest th').getAttribute('aria-sort')") == "descending"
    browser.click("#table-slowest th:nth-child(1)")
    assert durations() == sorted(durations()) and len(durations()) == 4
    browser.click("#table-slowest th:nth-child(4)")  # input: text, A to Z
    inputs = column(browser, "table-slowest", 3)
    assert inputs == sorted(inputs, key=str.lower) and inputs[0] == INJECTION

    # Nothing logged, nothing asked of the network but the file itself.
    browser.pump(0.3)
    assert browser.problems() == []
    assert browser.requests() == [page.as_uri()]
    with capsys.disabled():
        print(f"\nscreenshots: {shot_24h} {shot_30d}")


def test_empty_log_page_in_chromium(browser, tmp_path, shots, capsys):
    page = make_page(tmp_path, [])
    browser.open(page.as_uri())
    assert browser.js("document.getElementById('empty').textContent") == "The log is empty."
    assert browser.js("document.getElementById('empty').hidden") is False
    assert browser.js("document.getElementById('content').hidden") is True
    shot = browser.screenshot(shots / "dashboard-empty.png")
    assert browser.problems() == [] and browser.requests() == [page.as_uri()]
    with capsys.disabled():
        print(f"\nscreenshot: {shot}")


def test_the_checks_see_errors_dialogs_and_requests(browser, tmp_path):
    """The harness is not blind: a page that logs an error, alerts, breaks its CSP and fetches is caught."""
    page = tmp_path / "bad.html"
    page.write_text(
        "<!DOCTYPE html><meta http-equiv='Content-Security-Policy' content=\"default-src 'none'; "
        "script-src 'unsafe-inline'; connect-src http://127.0.0.1:9\"><body><img src='data:,x'><script>"
        "console.error('broken'); alert('pwned'); fetch('http://127.0.0.1:9/').catch(() => 0);"
        "document.body.dataset.ready = 'true';</script>")
    browser.open(page.as_uri())
    browser.pump(0.5)
    assert browser.dialogs() == ["pwned"]
    problems = browser.problems()
    assert any("broken" in p for p in problems)
    assert any("Content Security Policy" in p for p in problems)  # the img, refused
    assert "http://127.0.0.1:9/" in browser.requests()  # attempted; the network is off


def test_many_or_long_categories_stay_readable(browser, tmp_path, shots, capsys):
    """30 intents and operations, one named with 300 characters: the 12 most frequent, cut labels."""
    from tests.test_dashboard import S1, at, nl
    events: list[Any] = []
    for i in range(30):
        name = ("X" * 300 if i == 0 else f"INTENT_{i}")
        for turn in range(30 - i):
            events.append(nl(S1, turn + 1, at(1), name, 0.5, f"OP_{i}", 100))
            events.append({"type": "execution_result", "ts": at(1), "session": S1, "turn": turn + 1,
                           "success": turn % 2 == 0, "operation": f"OP_{i}", "total_duration_ms": 10})
    page = make_page(tmp_path, events)
    browser.open(page.as_uri())
    for chart in ("chart-operations", "chart-confidence"):
        labels = browser.js(f"Chart.getChart(document.getElementById('{chart}')).data.labels")
        assert len(labels) == 12  # (no NL stage confidences in this log)
        caption = browser.js(f"document.getElementById('{chart}').closest('figure').querySelector('.cap').textContent")
        assert caption == " (the 12 most frequent of 30)"
    intents = browser.js("Chart.getChart(document.getElementById('chart-confidence')).data.labels")
    assert intents[0] == ["X" * 31 + "\u2026", "0.500"]
    shot = browser.screenshot(shots / "dashboard-many-categories.png")
    assert browser.problems() == []
    with capsys.disabled():
        print(f"\nscreenshot: {shot}")
