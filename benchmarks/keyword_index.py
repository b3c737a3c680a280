"""Keyword index cost at a given size: backfill from embedded Chroma (pages), incremental write, search latency.

    .venv/bin/python benchmarks/keyword_index.py [--chunks 10000] [--golden eval/golden/kb.jsonl]
        [--postgres-url postgresql+psycopg://user@host:port/db]   # also PostgreSQL (a throwaway collection)

Chunks are the kb's own chunks (kb/, chunked as `deflect ingest` does), repeated under new ids up to --chunks, in a
throwaway embedded Chroma with hash vectors (the keyword side never reads vectors, so the model is not needed).
Also shows the former read path: one filtered Chroma read of every chunk, which fails past ~32k chunks.
A benchmark, not a test: numbers depend on the machine and its load, so nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from deflect.config import Settings
from deflect.domain.ports import KeywordIndex
from deflect.evaluation.golden import load_golden
from deflect.index.chroma import ChromaIndex
from deflect.index.keyword import SqliteKeywordIndex
from deflect.ingest.chunking import Chunker
from deflect.ingest.pipeline import Ingestor
from deflect.retrieval.keyword import backfill
from deflect.testing import HashEmbedder, InMemoryIndex


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--chunks", type=int, default=10_000)
    parser.add_argument("--golden", type=Path, default=Path("eval/golden/kb.jsonl"))
    parser.add_argument("--kb", type=Path, default=Path("kb"))
    parser.add_argument("--postgres-url", default=None)
    args = parser.parse_args()
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    memory = InMemoryIndex()
    Ingestor(memory, HashEmbedder(), Chunker(settings.chunk_size, settings.chunk_overlap)).ingest_paths(
        [args.kb], args.kb
    )
    base = memory.chunks()
    work = Path(tempfile.mkdtemp(prefix="deflect-kwbench-"))
    chroma = ChromaIndex.embedded(work / "chroma", "bench", 64)
    embedder = HashEmbedder(64)
    copies = [
        c.model_copy(
            update={"chunk_id": f"{c.chunk_id}~{i // len(base)}", "source_id": f"{c.source_id}~{i // len(base)}"}
        )
        for i, c in ((i, base[i % len(base)]) for i in range(args.chunks))
    ]
    for start in range(0, len(copies), 2000):
        part = copies[start : start + 2000]
        chroma.upsert(part, embedder.embed([c.text for c in part]))
    print(f"{chroma.count()} chunks in embedded Chroma ({len(base)} distinct kb chunks)")

    questions = [(c.question, c.audience.visible()) for c in load_golden(args.golden)]
    measure("SQLite FTS5", SqliteKeywordIndex(work / "keyword.sqlite3"), chroma, questions)
    if args.postgres_url:
        from deflect.store.keyword import PostgresKeywordIndex

        server = PostgresKeywordIndex(args.postgres_url, f"bench-{uuid.uuid4().hex[:8]}")
        measure("PostgreSQL", server, chroma, questions)
        server.delete_chunks(c.chunk_id for page in chroma.pages() for c in page)
        server.close()

    t = time.perf_counter()
    try:
        n = len(chroma.chunks(frozenset({"public", "internal"})))
        print(f"former path, one filtered read of every chunk: {n} chunks in {time.perf_counter() - t:.1f} s")
    except Exception as exc:  # what the former per-process BM25 build hit at this size
        print(f"former path, one filtered read of every chunk: fails ({type(exc).__name__}: {str(exc)[:80]})")
    return 0


def measure(name: str, keyword: KeywordIndex, chroma: ChromaIndex, questions: list[tuple[str, frozenset[str]]]) -> None:
    """Backfill `keyword` from Chroma, then time searches of every question and one write."""
    started = time.perf_counter()
    written = backfill(chroma, keyword)
    print(f"{name}: backfill from Chroma in pages of 1000: {written} chunks in {time.perf_counter() - started:.1f} s")
    for _ in range(2):  # the first pass warms caches
        times = []
        for question, audiences in questions:
            t = time.perf_counter()
            keyword.search(question, 40, audiences)
            times.append((time.perf_counter() - t) * 1000)
    times.sort()
    print(
        f"{name}: search (k=40, {len(times)} golden questions): p50 {statistics.median(times):.1f} ms, "
        f"p95 {times[int(0.95 * (len(times) - 1))]:.1f} ms"
    )
    sample = next(iter(chroma.pages(1)))[0]
    one = [sample.model_copy(update={"chunk_id": "new#0", "source_id": "new", "text": "zyzzyva resolution"})]
    t = time.perf_counter()
    keyword.upsert(one)
    found = keyword.search("zyzzyva", 5, frozenset({"public", "internal"}))
    print(f"{name}: one new chunk written and found: {(time.perf_counter() - t) * 1000:.1f} ms ({len(found)} hit)")


if __name__ == "__main__":
    raise SystemExit(main())
