"""Cost of the search for self-serve votes a failed write lost, in the usual case where none is: the knowledge job's
(the last week) and `deflect feedback sweep`'s (the votes' window, a year), FeedbackDesk.store_lost_self_served_votes
over SqlStore with N self-served escalations raised evenly over the past year, 30% of them solved by "other", every
named one's vote stored. SQLite; also PostgreSQL with --postgres-url. Packets are escalation-sized (ten searched
sources, a draft answer, a checklist: 2.6 kB), since the database reads each candidate's page out of its packet.

    .venv/bin/python benchmarks/self_serve_votes.py [--n 5000] [--runs 20] [--postgres-url postgresql+psycopg://...]

A benchmark, not a test: numbers depend on the machine and its load, so nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from deflect.domain.escalation import OTHER_PAGE, ChecklistItem, Escalation, SearchedSource, State
from deflect.domain.feedback import FeedbackRecord, self_served_vote_id
from deflect.feedback import FeedbackDesk
from deflect.service import LOST_VOTES_WITHIN
from deflect.store.sql import SqlStore
from deflect.testing.store_contract import make_event, self_served


def packet(escalation_id: str, created_at: datetime, page: str) -> Escalation:
    """A self-served escalation about the size of a real one."""
    sources = [
        SearchedSource(source_id=f"doc:articles/page-{k}", title=f"Page {k} of the manual", score=0.5 - k / 100)
        for k in range(10)
    ]
    checklist = [ChecklistItem(key="error_message", label="Error message", value="E42 on export")]
    return self_served(escalation_id, created_at, page).model_copy(
        update={
            "sources": sources,
            "draft_answer": "Open Settings, then Export, then retry. " * 20,
            "checklist": checklist,
        }
    )


def seed(store: SqlStore, n: int, now: datetime) -> None:
    for i in range(n):
        created = now - timedelta(days=364 * i / n, minutes=5)
        page = OTHER_PAGE if i % 10 < 3 else "doc:articles/page-0"
        esc = packet(f"esc_{i:06d}", created, page)
        data = {"decision": "escalate", "audience": "customer", "question": f"Question {i}"}
        store.create(esc, [make_event("decision", created, answer_id=esc.answer_id, data=data)])
        if page != OTHER_PAGE:
            vote = FeedbackRecord(
                id=self_served_vote_id(esc.id),
                answer_id=esc.answer_id,
                at=esc.timestamps[State.SELF_SERVED],
                helpful=True,
                correct_source=page,
                actor="customer:c1",
                role="customer",
                question=f"Question {i}",
                decision="escalate",
            )
            store.add_feedback(vote)


def timed(run: Callable[[], dict[str, int]], runs: int) -> dict[str, float]:
    times = []
    for _ in range(runs + 2):
        started = time.perf_counter()
        result = run()
        times.append((time.perf_counter() - started) * 1000)
        assert result == {"stored": 0, "failed": 0}, result
    times = sorted(times[2:])  # the first two warm the pool and the page cache
    return {"p50_ms": round(statistics.median(times), 2), "max_ms": round(times[-1], 2)}


def measure(store: SqlStore, n: int, runs: int) -> dict[str, dict[str, float]]:
    now = datetime.now(UTC)
    seed(store, n, now)
    desk = FeedbackDesk(store, None, clock=lambda: now)
    return {
        # What the knowledge job reads every run: the last week's self-serves.
        "job": timed(lambda: desk.store_lost_self_served_votes(within=LOST_VOTES_WITHIN), runs),
        # What `deflect feedback sweep` reads: the votes' whole window (a year).
        "sweep": timed(lambda: desk.store_lost_self_served_votes(limit=None), runs),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--postgres-url")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        store = SqlStore(f"sqlite:///{Path(tmp) / 'votes.db'}")
        print("sqlite", args.n, measure(store, args.n, args.runs))
        store.close()
    if args.postgres_url:
        store = SqlStore(args.postgres_url)
        print("postgresql", args.n, measure(store, args.n, args.runs))
        store.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
