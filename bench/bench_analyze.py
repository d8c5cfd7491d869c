"""`obra-monitor analyze --json` against the plan's four jq queries, on the same big log.

    .venv/bin/python bench/make_big_log.py      # once: bench/out/big.jsonl (~300 MB)
    .venv/bin/python bench/bench_analyze.py     # median of 3 runs each, printed as a table

jq stops at the first malformed line, and the generated log has a few (as real logs do), so
both tools read bench/out/big.clean.jsonl: the same log without its malformed lines (made
here once). The jq queries are the plan's Appendix A queries as corrected in docs/queries.md
(as written, two of them fail on any real log), each run with `jq -s` as the plan does.

Wall time is measured around each command. Memory: the peak of the whole process tree's
proportional set size (PSS, sampled every 10 ms; analyze forks a worker per CPU, and PSS
counts the pages they share once), and the peak RSS of the largest single process (wait4()).
The first line printed is this machine's speed at the time (ns per iteration of a trivial
Python loop): shared 2-vCPU machines vary, so compare figures taken at similar speeds.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import orjson

from measure import mb, run_measured

HERE = Path(__file__).resolve().parent
BIG = HERE / "out" / "big.jsonl"
CLEAN = HERE / "out" / "big.clean.jsonl"
OBRA_MONITOR = Path(sys.executable).with_name("obra-monitor")

JQ_QUERIES = {
    "success rate by operation": """map(select(.type == "execution_result"))
        | group_by(.operation | ascii_upcase?)
        | map({operation: .[0].operation, total: length,
               success: (map(select(.success)) | length),
               rate: ((map(select(.success)) | length) / length)})""",
    "average confidence by intent": """map(select(.type == "nl_result"))
        | group_by(.intent)
        | map({intent: .[0].intent, avg_confidence: (map(.confidence) | add / length), count: length})""",
    "P95 latency": """map(select(.type == "nl_result") | .duration_ms) | sort | .[length * 0.95 | floor]""",
    "top errors": """map(select(.type == "error")) | group_by(.error_type)
        | map({error: .[0].error_type, count: length}) | sort_by(.count) | reverse | .[0:10]""",
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--log", type=Path, default=BIG, help=f"log to read (default {BIG})")
    parser.add_argument("--runs", type=int, default=3, help="runs of each command (median is reported)")
    parser.add_argument("--skip-jq", action="store_true", help="only time obra-monitor")
    args = parser.parse_args(argv)
    if not args.log.exists():
        print(f"{args.log} is missing: run .venv/bin/python bench/make_big_log.py first", file=sys.stderr)
        return 2
    clean = _clean_copy(args.log)
    size = clean.stat().st_size
    print(f"log: {clean} ({size / 1e6:.0f} MB), {os.cpu_count()} CPUs, median of {args.runs} runs")
    print(f"machine speed now: {_loop_ns():.0f} ns per trivial Python loop iteration, "
          f"load average {os.getloadavg()[0]:.2f}\n")

    rows = []
    analyze = _measure([str(OBRA_MONITOR), "analyze", str(clean), "--json"], args.runs)
    rows.append(("obra-monitor analyze --json", analyze))
    single = _measure([str(OBRA_MONITOR), "analyze", str(clean), "--json", "--jobs", "1"], args.runs)
    rows.append(("obra-monitor analyze --json --jobs 1", single))
    jq_total = None
    if not args.skip_jq:
        jq_results = []
        for name, query in JQ_QUERIES.items():
            result = _measure(["jq", "-s", query, str(clean)], args.runs)
            rows.append((f"jq -s: {name}", result))
            jq_results.append(result)
        jq_total = (sum(r[0] for r in jq_results), max(r[1] for r in jq_results), max(r[2] for r in jq_results))
        rows.append(("jq -s: the four queries together", jq_total))

    width = max(len(name) for name, _ in rows)
    print(f"{'command':<{width}}  {'wall (s)':>9}  {'peak PSS, tree':>15}  {'largest RSS':>15}  {'vs analyze':>10}")
    for name, (wall, tree_rss, max_rss) in rows:
        ratio = f"{wall / analyze[0]:.1f}x"
        print(f"{name:<{width}}  {wall:>9.2f}  {mb(tree_rss):>15}  {mb(max_rss):>15}  {ratio:>10}")
    if jq_total:
        print(f"\nobra-monitor analyze answers all four (and more) {jq_total[0] / analyze[0]:.0f}x faster "
              f"than the four jq queries, in {analyze[1] / jq_total[1] * 100:.1f}% of their peak memory.")
    print(f"throughput: {size / 1e6 / analyze[0]:.0f} MB/s, "
          f"{_events(clean) / analyze[0] / 1e6:.2f} M events/s (obra-monitor analyze)")
    return 0


def _clean_copy(log: Path) -> Path:
    """The log without its malformed lines (jq -s cannot read past one); made once."""
    target = CLEAN if log == BIG else log.with_suffix(".clean.jsonl")
    if target.exists() and target.stat().st_mtime >= log.stat().st_mtime:
        return target
    dropped = 0
    with open(log, "rb") as source, open(target, "wb") as out:
        for line in source:
            try:
                if isinstance(orjson.loads(line), dict):
                    out.write(line)
                    continue
            except orjson.JSONDecodeError:
                pass
            dropped += 1
    print(f"wrote {target} ({dropped} malformed lines left out)", file=sys.stderr)
    return target


def _events(path: Path) -> int:
    with open(path, "rb") as handle:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 20), b""))


def _measure(command: list[str], runs: int) -> tuple[float, int, int]:
    """Median wall time (s), and the highest peak RSS (bytes) over the runs: tree-sampled, wait4."""
    walls, trees, maxima = [], [], []
    for _ in range(runs):
        wall, tree, largest = _run_once(command)
        walls.append(wall)
        trees.append(tree)
        maxima.append(largest)
    return statistics.median(walls), max(trees), max(maxima)


def _run_once(command: list[str]) -> tuple[float, int, int]:
    measured = run_measured(command)
    return measured.wall, measured.tree_pss, measured.max_rss


def _loop_ns() -> float:
    started = time.perf_counter()
    count = 0
    for _ in range(3_000_000):
        count += 1
    return (time.perf_counter() - started) / 3_000_000 * 1e9


if __name__ == "__main__":
    sys.exit(main())
