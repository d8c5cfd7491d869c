"""The rotating writer, checked by reading the files it leaves behind."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from obra_monitor.writer import RotatingWriter, lock_path_for, rotated_path


def line(n: int, pad: int = 40) -> bytes:
    return json.dumps({"n": n, "pad": "x" * pad}).encode() + b"\n"


def log_files(path: Path) -> list[Path]:
    """The rotated set, oldest first, as a reader would take it."""
    rotated = sorted(
        (p for p in path.parent.glob(path.name + ".*") if p.suffix[1:].isdigit()),
        key=lambda p: int(p.suffix[1:]),
        reverse=True,
    )
    return rotated + ([path] if path.exists() else [])


def read_numbers(path: Path) -> list[int]:
    numbers = []
    for file in log_files(path):
        for raw in file.read_bytes().splitlines():
            numbers.append(json.loads(raw)["n"])
    return numbers


def test_appends_complete_lines_and_creates_private_files(tmp_path: Path) -> None:
    path = tmp_path / "new" / "dir" / "production.jsonl"
    writer = RotatingWriter(path, max_bytes=10_000, max_files=3)
    for n in range(5):
        assert writer.write(line(n))
    writer.close()

    assert read_numbers(path) == [0, 1, 2, 3, 4]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(lock_path_for(path).stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "new").stat().st_mode) == 0o700
    assert writer.counts.lines_written == 5


def test_rotates_by_size_keeping_max_files_and_deleting_the_oldest(tmp_path: Path) -> None:
    path = tmp_path / "production.jsonl"
    one = len(line(0))
    writer = RotatingWriter(path, max_bytes=one * 10, max_files=3)
    for n in range(100):
        writer.write(line(n))
    writer.close()

    files = log_files(path)
    assert [f.name for f in files] == ["production.jsonl.2", "production.jsonl.1", "production.jsonl"]
    for file in files[:-1]:
        # Rotated as soon as it reached the limit: over it by less than one line.
        assert one * 10 <= file.stat().st_size < one * 11
    numbers = read_numbers(path)
    # The newest events are kept, in order, with nothing missing between them.
    assert numbers == list(range(numbers[0], 100))
    assert numbers[-1] == 99 and len(numbers) <= 30
    assert writer.counts.rotations >= 7


def test_max_files_one_keeps_only_the_live_file(tmp_path: Path) -> None:
    path = tmp_path / "production.jsonl"
    writer = RotatingWriter(path, max_bytes=len(line(0)) * 4, max_files=1)
    for n in range(10):
        writer.write(line(n))
    writer.close()
    assert log_files(path) == [path]
    assert read_numbers(path) == [8, 9]


def test_a_full_existing_file_is_rotated_on_first_write(tmp_path: Path) -> None:
    path = tmp_path / "production.jsonl"
    path.write_bytes(line(0) * 50)
    writer = RotatingWriter(path, max_bytes=len(line(0)) * 10, max_files=5)
    writer.write(line(1))
    writer.close()
    assert rotated_path(path, 1).read_bytes() == line(0) * 50 + line(1)
    assert path.read_bytes() == b""


def test_threads_lose_and_tear_nothing_through_rotation(tmp_path: Path) -> None:
    path = tmp_path / "production.jsonl"
    writer = RotatingWriter(path, max_bytes=16_384, max_files=10_000)
    per_thread = 2000

    def work(thread: int) -> None:
        for i in range(per_thread):
            writer.write(line(thread * per_thread + i))

    threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    writer.close()

    assert sorted(read_numbers(path)) == list(range(8 * per_thread))


WORKER = textwrap.dedent(
    """
    import json, sys, threading
    from obra_monitor.writer import RotatingWriter
    path, proc, threads, per_thread = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    writer = RotatingWriter(path, max_bytes=16_384, max_files=100_000)
    def work(t):
        for i in range(per_thread):
            writer.write(json.dumps({"p": proc, "t": t, "i": i, "pad": "y" * (i % 97)}).encode() + b"\\n")
    ts = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
    [t.start() for t in ts]
    [t.join() for t in ts]
    writer.close()
    print(writer.counts.lines_written, writer.counts.lines_dropped)
    """
)


def test_processes_and_threads_lose_duplicate_and_tear_nothing_through_rotation(tmp_path: Path) -> None:
    path = tmp_path / "production.jsonl"
    processes, threads, per_thread = 4, 4, 1500
    children = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, str(path), str(p), str(threads), str(per_thread)],
            stdout=subprocess.PIPE, text=True,
        )
        for p in range(processes)
    ]
    reports = [child.communicate(timeout=120)[0].split() for child in children]
    assert all(child.returncode == 0 for child in children)
    assert reports == [[str(threads * per_thread), "0"]] * processes

    seen = []
    files = log_files(path)
    assert len(files) > 20, "the run should have rotated many times"
    for file in files:
        data = file.read_bytes()
        assert data == b"" or data.endswith(b"\n"), f"{file.name} ends in a torn line"
        for raw in data.splitlines():
            event = json.loads(raw)  # a torn or interleaved line would fail here
            seen.append((event["p"], event["t"], event["i"]))
    expected = {(p, t, i) for p in range(processes) for t in range(threads) for i in range(per_thread)}
    assert len(seen) == len(expected), "lines lost or duplicated"
    assert set(seen) == expected
    # Within one thread, events stay in the order they were written.
    for p in range(processes):
        for t in range(threads):
            order = [i for (pp, tt, i) in seen if (pp, tt) == (p, t)]
            assert order == sorted(order)


def test_forked_child_writes_through_its_own_descriptors(tmp_path: Path) -> None:
    path = tmp_path / "production.jsonl"
    writer = RotatingWriter(path, max_bytes=2048, max_files=10_000)
    writer.write(line(0))
    pid = os.fork()
    if pid == 0:  # child
        for n in range(1, 200):
            writer.write(line(n))
        os._exit(0)
    for n in range(200, 400):
        writer.write(line(n))
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    writer.close()
    assert sorted(read_numbers(path)) == list(range(400))


def test_disk_full_drops_and_counts_then_resumes(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "production.jsonl"
    writer = RotatingWriter(path, max_bytes=1_000_000, max_files=3, path_check_interval=0)
    assert writer.write(line(1))
    path.unlink()
    path.symlink_to("/dev/full")  # every write now fails with ENOSPC

    assert not writer.write(line(2))
    assert not writer.write(line(3))
    assert writer.counts.lines_dropped == 2
    warnings = [r for r in caplog.records if "cannot write" in r.getMessage()]
    assert len(warnings) == 1, "warn once per outage, not per event"
    assert "No space left" in warnings[0].getMessage()

    path.unlink()  # space is back
    assert writer.write(line(4))
    writer.close()
    assert read_numbers(path) == [4]
    assert any("again" in r.getMessage() for r in caplog.records)


def test_deleted_directory_is_recreated(tmp_path: Path) -> None:
    path = tmp_path / "logs" / "production.jsonl"
    writer = RotatingWriter(path, max_bytes=1_000_000, max_files=3, path_check_interval=0)
    writer.write(line(1))
    shutil.rmtree(path.parent)
    writer.write(line(2))
    writer.close()
    assert read_numbers(path) == [2]
    assert writer.counts.lines_dropped == 0


def test_unwritable_directory_drops_then_resumes(tmp_path: Path) -> None:
    blocker = tmp_path / "logs"
    blocker.write_text("a file where the log directory should be")
    path = blocker / "production.jsonl"
    writer = RotatingWriter(path, max_bytes=1_000_000, max_files=3)
    assert not writer.write(line(1))
    assert writer.counts.lines_dropped == 1
    blocker.unlink()
    assert writer.write(line(2))
    writer.close()
    assert read_numbers(path) == [2]


def test_read_only_directory_drops_then_resumes(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    # Root ignores mode bits, so use the immutable attribute where the filesystem has it.
    if subprocess.run(["chattr", "+i", str(logs)], capture_output=True).returncode != 0:
        pytest.skip("chattr +i is not available here")
    try:
        writer = RotatingWriter(logs / "production.jsonl", max_bytes=1_000_000, max_files=3)
        assert not writer.write(line(1))
        assert writer.counts.lines_dropped == 1
    finally:
        subprocess.run(["chattr", "-i", str(logs)], check=True)
    assert writer.write(line(2))
    writer.close()
    assert read_numbers(logs / "production.jsonl") == [2]


def test_write_after_close_is_dropped_not_raised(tmp_path: Path) -> None:
    writer = RotatingWriter(tmp_path / "p.jsonl", max_bytes=1000, max_files=2)
    writer.close()
    assert not writer.write(line(1))
    assert writer.counts.lines_dropped == 1
