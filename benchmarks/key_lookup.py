"""Cost of looking an API key up in the database on every request (what makes a revocation hold at once in every
worker, with no cache): KeyRing.identify over SqlStore on SQLite, and on PostgreSQL with --postgres-url.

    .venv/bin/python benchmarks/key_lookup.py [--keys 1000] [--n 2000] [--postgres-url postgresql+psycopg://...]

A benchmark, not a test: numbers depend on the machine and its load, so nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from deflect.domain.keys import Role
from deflect.keys import KeyRing
from deflect.store.sql import SqlStore


def measure(store: SqlStore, keys: int, n: int) -> dict[str, float]:
    ring = KeyRing(store)
    secrets = [ring.create(Role.AGENT, f"bench {i}", "bench").secret for i in range(keys)]
    for secret in secrets[:50]:  # warm the pool
        ring.identify(secret)
    times = []
    for i in range(n):
        started = time.perf_counter()
        found = ring.identify(secrets[i % keys])
        times.append((time.perf_counter() - started) * 1000)
        assert found is not None
    times.sort()
    p95 = times[int(0.95 * len(times))]
    return {"p50_ms": statistics.median(times), "p95_ms": p95, "mean_ms": statistics.mean(times)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--keys", type=int, default=1000)
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--postgres-url")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        store = SqlStore(f"sqlite:///{Path(tmp) / 'keys.db'}")
        print("sqlite", {k: round(v, 3) for k, v in measure(store, args.keys, args.n).items()})
        store.close()
    if args.postgres_url:
        store = SqlStore(args.postgres_url)
        print("postgresql", {k: round(v, 3) for k, v in measure(store, args.keys, args.n).items()})
        store.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
