"""What committing an ask's record durably costs on this disk, apart from deflect: one SQLite transaction in WAL mode
with synchronous=FULL (as deflect's store runs it) inserting a row the size of an ask's audit record, timed from
BEGIN IMMEDIATE to COMMIT; and the same with synchronous=OFF (no fsync), which deflect does not use: the difference
is the fsync every ask waits for before its reply.

    .venv/bin/python benchmarks/commit_latency.py --dir .data --n 300

A benchmark, not a test: the fsync's cost depends on the disk and on what else writes to it (reported as measured).
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dir", type=Path, default=None, help="folder on the disk to measure (default: a temp one)")
    parser.add_argument("--n", type=int, default=300, help="commits per mode")
    parser.add_argument("--row-bytes", type=int, default=2000, help="size of each inserted row")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="commit-latency-", dir=args.dir))
    for mode in ("FULL", "OFF"):
        path = folder / f"{mode.lower()}.db"
        conn = sqlite3.connect(path, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA synchronous={mode}")
        conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, data TEXT)")
        times = []
        for _ in range(args.n):
            started = time.perf_counter()
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("INSERT INTO t (data) VALUES (?)", ("x" * args.row_bytes,))
            conn.execute("COMMIT")
            times.append((time.perf_counter() - started) * 1000)
        conn.close()
        times.sort()
        p95 = times[min(len(times) - 1, int(0.95 * (len(times) - 1) + 0.5))]
        print(f"synchronous={mode}: commit p50 {statistics.median(times):.2f} ms, p95 {p95:.2f} ms ({args.n} commits)")
    for leftover in folder.iterdir():
        leftover.unlink()
    folder.rmdir()
    print(f"load average {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
