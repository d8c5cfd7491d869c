"""`obra-monitor tail`: last events, following through rotation, filters, plain/color/JSON output.

Following is tested on the real command in a subprocess, reading its output lines with a
timeout (no sleeps), and in-process with an injected stop event.
"""

from __future__ import annotations

import io
import json
import os
import queue
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from obra_monitor import events as ev
from obra_monitor.cli import main
from obra_monitor.reader import LogReader
from obra_monitor.render import clean_text, event_line
from obra_monitor.tail import Printer, follow
from tests.helpers_log import SESSION_A, SESSION_B, append, event, fixture_events, inputs, numbered, rotate, write_log

OBRA_MONITOR = Path(sys.executable).with_name("obra-monitor")
TIMEOUT = 30


@pytest.fixture
def log(tmp_path: Path) -> Path:
    return tmp_path / "production.jsonl"


class Running:
    """The real command in a subprocess; its output lines arrive on queues."""

    def __init__(self, *args: str) -> None:
        env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
        self.proc = subprocess.Popen([str(OBRA_MONITOR), *args], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, env=env)
        self.out: queue.Queue[str] = queue.Queue()
        self.err: queue.Queue[str] = queue.Queue()
        for stream, target in ((self.proc.stdout, self.out), (self.proc.stderr, self.err)):
            threading.Thread(target=self._pump, args=(stream, target), daemon=True).start()

    @staticmethod
    def _pump(stream, target) -> None:
        for text in stream:
            target.put(text.rstrip("\n"))

    def lines(self, count: int, source: str = "out") -> list[str]:
        target = self.out if source == "out" else self.err
        return [target.get(timeout=TIMEOUT) for _ in range(count)]

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=TIMEOUT)

    def __enter__(self) -> Running:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc.poll() is None:
            self.stop()


def number_of(text: str) -> int:
    return int(text.rsplit("event ", 1)[1])


def test_follows_through_rotation_every_event_once(log):
    write_log(log, numbered(3, 0))
    with Running("tail", str(log), "-n", "2") as tail:
        assert [number_of(t) for t in tail.lines(2)] == [1, 2]
        append(log, numbered(1, 3))
        assert number_of(tail.lines(1)[0]) == 3
        append(log, numbered(1, 4))
        rotate(log)
        append(log, numbered(2, 5))
        got = [number_of(t) for t in tail.lines(3)]
        append(log.with_name("production.jsonl.1"), numbered(1, 7))  # a late line to the renamed file
        append(log, numbered(1, 8))
        got += [number_of(t) for t in tail.lines(2)]
        assert sorted(got) == [4, 5, 6, 7, 8]
        assert got[0] == 4
        tail.stop()
        assert tail.out.empty()


def test_waits_for_a_missing_file(log):
    with Running("tail", str(log)) as tail:
        assert "waiting for" in tail.lines(1, "err")[0]
        write_log(log, numbered(2))
        assert [number_of(t) for t in tail.lines(2)] == [0, 1]


def test_waits_for_a_missing_directory(tmp_path):
    path = tmp_path / "not" / "yet" / "production.jsonl"
    with Running("tail", str(path)) as tail:
        assert "waiting for" in tail.lines(1, "err")[0]
        write_log(path, numbered(1))
        assert number_of(tail.lines(1)[0]) == 0


def test_follow_in_process_with_a_stop_event(log):
    write_log(log, numbered(1, 0))
    got: list[str] = []
    arrived = threading.Condition()
    stop = threading.Event()

    def handle(records):
        with arrived:
            got.extend(inputs(records))
            arrived.notify_all()

    with LogReader(log, start="end") as reader:
        worker = threading.Thread(target=follow, args=(reader, handle, stop), kwargs={"timeout_ms": 200})
        worker.start()
        try:
            append(log, numbered(2, 1))
            rotate(log)
            append(log, numbered(1, 3))
            with arrived:
                assert arrived.wait_for(lambda: len(got) >= 3, timeout=TIMEOUT)
        finally:
            stop.set()
            worker.join(TIMEOUT)
    assert not worker.is_alive()
    assert got == ["event 1", "event 2", "event 3"]


def test_no_follow_prints_the_last_events_plain(log, capsys):
    write_log(log, fixture_events())
    assert main(["tail", str(log), "--no-follow", "-n", "3"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 3 and "\x1b" not in "".join(out)
    assert "user_input" in out[0] and "> what's up?" in out[0]
    assert "execution_result" in out[2] and "✓ ok Answered" in out[2]


def test_filters(log, capsys):
    write_log(log, fixture_events())
    assert main(["tail", str(log), "--no-follow", "-n", "50", "--errors-only"]) == 0
    out = capsys.readouterr().out.splitlines()
    # 3 errors, 2 failed executions, 1 failed validation
    assert len(out) == 6 and sum("ERROR" in line for line in out) == 3
    assert main(["tail", str(log), "--no-follow", "-n", "50", "--type", "user_input", "--type", "error"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 9
    assert main(["tail", str(log), "--no-follow", "-n", "50", "--session", SESSION_B[:4]]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 6
    assert main(["tail", str(log), "--no-follow", "--type", "eror"]) == 0
    captured = capsys.readouterr()
    assert captured.out == "" and "'eror' is not a known event type" in captured.err


def test_json_passes_raw_lines_through(log, capsys):
    raw = [b'{"type": "user_input", "ts": "2026-12-04T19:56:34+00:00", "session": "s", "input": "a"}',
           b"garbage", b'{"type":"error","session":"s","error":"x","extra":[1,2]}']
    write_log(log, raw)
    assert main(["tail", str(log), "--no-follow", "--json"]) == 0
    captured = capsys.readouterr()
    assert captured.out.encode().splitlines() == [raw[0], raw[2]]
    assert "skipped a malformed line (not JSON)" in captured.err
    for line in captured.out.splitlines():
        json.loads(line)


def test_bell_rings_on_failures(log, capsys):
    write_log(log, fixture_events())
    assert main(["tail", str(log), "--no-follow", "-n", "50", "--bell"]) == 0
    assert capsys.readouterr().err.count("\a") == 6


def test_missing_file_without_follow_is_exit_2(log, capsys):
    assert main(["tail", str(log), "--no-follow"]) == 2
    assert "no such log file" in capsys.readouterr().err


def test_malformed_lines_are_shown_literally(log, capsys):
    write_log(log, [b"\x1b[31mnot json [bold]x[/bold]", numbered(1)[0]])
    assert main(["tail", str(log), "--no-follow"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("malformed") and "(not JSON) ␛[31mnot json [bold]x[/bold]" in out[0]


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_colors_on_a_terminal_unless_no_color(log, monkeypatch):
    write_log(log, [event(ev.EventType.USER_INPUT, input="[bold red]x[/] \x1b[2J \x07 \x9b1m"),
                    event(ev.EventType.ERROR, stage="execution", error="boom")])
    monkeypatch.delenv("NO_COLOR", raising=False)
    with LogReader(log) as reader:
        records = reader.poll()
    terminal = FakeTerminal()
    Printer(terminal).emit(records)
    colored = terminal.getvalue()
    assert "\x1b[" in colored  # styled
    assert "\x1b[2J" not in colored and "\x07" not in colored and "\x9b" not in colored
    assert "[bold red]x[/] ␛[2J" in colored
    monkeypatch.setenv("NO_COLOR", "1")
    plain = FakeTerminal()
    Printer(plain).emit(records)
    assert "\x1b" not in plain.getvalue() and "[bold red]x[/]" in plain.getvalue()


def test_event_line_for_every_type_and_unknown_fields():
    line = event_line(event(ev.EventType.NL_RESULT, SESSION_A, 3, intent="command", confidence=0.91,
                            operation="delete", entity="project", identifier="__ALL__", validation="passed",
                            duration_ms=1234.0, stages={"intent": 0.94, "operation": 1.0}, surprise="kept"))
    assert line.plain.startswith("19:56:34.123  3f2b8c1e  #3 ")
    assert "COMMAND DELETE project __ALL__  conf 0.91 (i0.94 o1.00)  validation passed  1234 ms" in line.plain
    assert line.plain.endswith("surprise=kept")
    unknown = event_line({"type": "heartbeat", "ts": "2026-12-04T19:56:34+00:00", "load": 0.5})
    assert "heartbeat" in unknown.plain and "load=0.5" in unknown.plain
    bad = event_line({"type": "user_input", "ts": 12, "session": ["x"], "turn": "1", "input": None})
    assert bad.plain.startswith("12")


def test_clean_text():
    assert clean_text("a\x1b[2Jb\x00c\x7fd\x85e\u202ef\tg\r\nh") == "a␛[2Jb�c�d�e�f g␍⏎h"
    assert clean_text({"k": [1, None]}) == '{"k":[1,null]}'
    assert clean_text("x" * 10, 5) == "xxxx…"


def test_broken_pipe_is_quiet(log):
    write_log(log, numbered(200))
    done = subprocess.run(f"'{OBRA_MONITOR}' tail --no-follow -n 200 '{log}' | head -1", shell=True,
                          capture_output=True, text=True, timeout=TIMEOUT)
    assert done.stdout.count("\n") == 1 and "Traceback" not in done.stderr and "Error" not in done.stderr
