"""`obra-monitor dashboard` against `obra-monitor analyze --json`, on the same big log.

    .venv/bin/python bench/bench_dashboard.py       # makes bench/out/big.jsonl first if it is missing

Both commands read the whole log set once, in parallel (one worker per CPU); the dashboard
also splits it by hour for its 24h / 7d / 30d views and their charts over time, and writes
the HTML page. Runs alternate (analyze, dashboard, analyze, ...) so that a busy machine
slows both alike; the median of --runs runs is reported. Wall time and peak memory are
measured as bench_analyze.py measures them (peak RSS summed over the process tree, sampled
every 10 ms, and the largest single process from wait4()), and CPU time (user + system,
workers included) from wait4().
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import NamedTuple

from measure import mb, run_measured

HERE = Path(__file__).resolve().parent
BIG = HERE / "out" / "big.jsonl"
OBRA_MONITOR = Path(sys.executable).with_name("obra-monitor")
TARGET = 1.5  # the dashboard should take at most this many times analyze's wall time


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--log", type=Path, default=BIG, help=f"log to read (default {BIG})")
    parser.add_argument("--runs", type=int, default=3, help="runs of each command (median is reported)")
    args = parser.parse_args(argv)
    if not args.log.exists():
        if args.log != BIG:
            print(f"{args.log}: no such file", file=sys.stderr)
            return 2
        print(f"{BIG} is missing: making it (bench/make_big_log.py)", file=sys.stderr)
        subprocess.run([sys.executable, str(HERE / "make_big_log.py")], check=True)
    size = args.log.stat().st_size
    out = Path(tempfile.mkdtemp(prefix="obra-bench-dashboard-")) / "dashboard.html"
    commands = {
        "obra-monitor analyze --json": [str(OBRA_MONITOR), "analyze", str(args.log), "--json"],
        "obra-monitor dashboard -o FILE": [str(OBRA_MONITOR), "dashboard", str(args.log), "-o", str(out)],
    }
    print(f"log: {args.log} ({size / 1e6:.0f} MB), {os.cpu_count()} CPUs, median of {args.runs} runs, alternating")
    print(f"load average before: {' '.join(f'{x:.1f}' for x in os.getloadavg())}\n")
    results: dict[str, list[Run]] = {name: [] for name in commands}
    for _ in range(args.runs):
        for name, command in commands.items():
            results[name].append(run_once(command))

    analyze = _median(results["obra-monitor analyze --json"])
    print(f"{'command':<31}  {'wall (s)':>8}  {'runs (s)':>16}  {'CPU (s)':>7}  {'peak RSS, tree':>14}  "
          f"{'largest process':>15}  {'wall vs analyze':>15}  {'CPU vs analyze':>14}")
    for name, runs in results.items():
        row = _median(runs)
        walls = " ".join(f"{r.wall:.1f}" for r in runs)
        print(f"{name:<31}  {row.wall:>8.2f}  {walls:>16}  {row.cpu:>7.2f}  {mb(row.tree_rss):>14}  "
              f"{mb(row.max_rss):>15}  {row.wall / analyze.wall:>14.2f}x  {row.cpu / analyze.cpu:>13.2f}x")
    dashboard = _median(results["obra-monitor dashboard -o FILE"])
    ratio = dashboard.wall / analyze.wall
    chart_js = HERE.parent / "obra_monitor" / "dashboard_assets" / "vendor" / "chart.umd.min.js"
    print(f"\npage: {out.stat().st_size / 1024:,.0f} KB ({out}), "
          f"of which Chart.js {chart_js.stat().st_size / 1024:,.0f} KB")
    print(f"load average after: {' '.join(f'{x:.1f}' for x in os.getloadavg())} "
          "(a busy machine spreads the wall times; CPU time is steadier)")
    print(f"dashboard / analyze wall time: {ratio:.2f}x (target: at most {TARGET}x) -> "
          f"{'ok' if ratio <= TARGET else 'OVER TARGET'}")
    return 0


class Run(NamedTuple):
    wall: float  # seconds
    cpu: float  # user + system seconds of the command and the workers it waited for
    tree_rss: int  # bytes, peak Pss of the process tree (sampled every 10 ms; shared pages once)
    max_rss: int  # bytes, the largest single process (wait4)


def _median(runs: list[Run]) -> Run:
    return Run(statistics.median(r.wall for r in runs), statistics.median(r.cpu for r in runs),
               max(r.tree_rss for r in runs), max(r.max_rss for r in runs))


def run_once(command: list[str]) -> Run:
    measured = run_measured(command)
    return Run(measured.wall, measured.cpu, measured.tree_pss, measured.max_rss)


if __name__ == "__main__":
    sys.exit(main())
