"""Parsing a folder's files on every core.

Parsing (BeautifulSoup, markdownify, markdown-it) is pure Python, so threads would take turns on one core; and at
ingest nothing else can run meanwhile: a folder's boilerplate is known only once all its pages are read, so the
embedding, which uses both cores, starts after the last page. Measured on the 2-core machine (session 22, the 65
pages of the Python manual that make 2,000 chunks): 5.0-5.5 s in one process, 3.1-3.3 s on two workers, the same
sources.

Each worker is a fresh `python -m deflect.ingest.parallel` fed its share of the files over a pipe, not a
multiprocessing pool: a pool's workers import the parent's main script again ("spawn"), which runs an unguarded
caller's top-level code a second time, and a fork would copy the service's threads mid-step (the ingest may run
inside the service). Workers start only for enough bytes to repay their start (MIN_BYTES), and a worker
that cannot start or fails leaves its files to this process: a slower ingest, never a failed one.

Each job carries the bytes the parse memo hashed, so what is remembered is what was parsed.
"""

from __future__ import annotations

import logging
import os
import pickle
import subprocess
import sys
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from deflect.domain.models import SourceDoc
from deflect.errors import SourceError
from deflect.ingest.collector import fewer_collections
from deflect.ingest.rules import KbRules

log = logging.getLogger(__name__)

# What a worker runs: this module, with the ingest's own copy of deflect first on its path.
COMMAND = ("-m", "deflect.ingest.parallel")
# Less than this much to parse is parsed in this process: a worker starts in ~0.3 s, and parsing runs at ~1 MB/s
# (session 22: kb/'s 49 files, 274 KB, in 0.26 s here against 0.57 s on two workers; the Python manual's 65 pages,
# 6.2 MB, in 5.0-5.5 s against 3.1-3.4 s).
MIN_BYTES = 1_000_000


@dataclass(frozen=True)
class ParseJob:
    raw: bytes
    path: Path
    origin: str
    signature: str
    rules: KbRules


@dataclass(frozen=True)
class ParseOutcome:
    """What one file gave: its sources and errors, or the reason it is not an article (`skipped`)."""

    docs: tuple[SourceDoc, ...] = ()
    errors: tuple[SourceError, ...] = ()
    skipped: str | None = None


def parse_jobs(jobs: Sequence[ParseJob], workers: int = 0) -> list[ParseOutcome]:
    """Each job's outcome, in the jobs' order; on `workers` processes (0: one per core; 1: this process)."""
    workers = min(workers or os.cpu_count() or 1, len(jobs))
    if workers < 2 or sum(len(job.raw) for job in jobs) < MIN_BYTES:
        return [_parse(job) for job in jobs]
    shares = _shares(jobs, workers)
    out: list[ParseOutcome] = [ParseOutcome()] * len(jobs)
    # One thread per worker only waits on its pipes (subprocess.run reads stdout and stderr together: no deadlock).
    with ThreadPoolExecutor(max_workers=len(shares), thread_name_prefix="parse-worker") as pool:
        found = list(pool.map(lambda share: _in_worker([jobs[i] for i in share]), shares))
    for share, outcomes in zip(shares, found, strict=True):
        mine = outcomes if outcomes is not None else [_parse(jobs[i]) for i in share]
        for i, outcome in zip(share, mine, strict=True):
            out[i] = outcome
    return out


def _shares(jobs: Sequence[ParseJob], workers: int) -> list[list[int]]:
    """Job indexes per worker, balanced by bytes: the largest file first, each to the least loaded worker."""
    shares: list[list[int]] = [[] for _ in range(workers)]
    load = [0] * workers
    for i in sorted(range(len(jobs)), key=lambda i: -len(jobs[i].raw)):
        least = load.index(min(load))
        shares[least].append(i)
        load[least] += len(jobs[i].raw)
    return [share for share in shares if share]


def _in_worker(jobs: list[ParseJob]) -> list[ParseOutcome] | None:
    """The jobs' outcomes from a worker process, or None when it failed (the caller parses them then)."""
    try:
        done = subprocess.run(
            [sys.executable, *COMMAND],
            input=pickle.dumps(jobs, protocol=pickle.HIGHEST_PROTOCOL),
            capture_output=True,
            check=False,
            env=_worker_env(),
        )
        if done.returncode != 0:
            raise OSError(f"exit {done.returncode}: {done.stderr.decode(errors='replace')[-500:].strip()}")
        outcomes = pickle.loads(done.stdout)  # noqa: S301 (our own child, over its own pipe)
        if not isinstance(outcomes, list) or len(outcomes) != len(jobs):
            raise OSError("a parse worker gave back something else than its files' outcomes")
    except (OSError, pickle.UnpicklingError, EOFError) as exc:
        log.warning("parsing in this process: a parse worker failed (%s)", exc)
        return None
    return outcomes


def _parse(job: ParseJob) -> ParseOutcome:
    from deflect.ingest.sources import NotAnArticle, parse_bytes  # sources imports this module

    with fewer_collections():
        try:
            docs, errors = parse_bytes(job.raw, job.path, job.origin, job.signature, job.rules)
        except SourceError as exc:
            return ParseOutcome(errors=(exc,))
        except NotAnArticle as skip:
            return ParseOutcome(skipped=skip.reason)
    return ParseOutcome(tuple(docs), tuple(errors))


def _worker_env() -> dict[str, str]:
    """This process's environment, with the folder deflect was imported from first on the path (a checkout on
    PYTHONPATH, an installed package: the worker parses with the same code)."""
    here = str(Path(__file__).resolve().parents[2])
    path = os.environ.get("PYTHONPATH", "")
    return {**os.environ, "PYTHONPATH": here + (os.pathsep + path if path else "")}


def _serve() -> None:
    """A worker: parse the jobs pickled on stdin, pickle their outcomes to stdout."""
    jobs = pickle.load(sys.stdin.buffer)  # noqa: S301 (from the ingest that started this process)
    outcomes = [_parse(job) for job in jobs]
    sys.stdout.buffer.write(pickle.dumps(outcomes, protocol=pickle.HIGHEST_PROTOCOL))
    sys.stdout.buffer.flush()


if __name__ == "__main__":
    # Through the module's own name: outcomes pickled as `__main__.ParseOutcome` would not load in the ingest.
    from deflect.ingest.parallel import _serve as serve

    serve()
