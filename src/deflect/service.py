"""DeflectService: the use cases every entry point (API, CLI, eval) goes through."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import timedelta
from pathlib import Path
from typing import TypeVar
from urllib.parse import quote

from deflect.answer.confidence import Calibration, features
from deflect.answer.names import unknown_names
from deflect.answer.passages import neighbours_wanted
from deflect.bounded import Bounded
from deflect.calibrate.calibrator import Calibrator
from deflect.desk import EscalationDesk, asker_names, customer_names
from deflect.domain.escalation import AuditEvent, Escalation, PendingKnowledge, State
from deflect.domain.models import (
    AskResult,
    Audience,
    Chunk,
    Citation,
    Decision,
    IngestReport,
    SourceDoc,
    SourceHit,
    Suggestion,
    by_score,
    chunk_number,
)
from deflect.domain.ports import Embedder, Generator, Index, StreamingGenerator
from deflect.domain.text import asks_how, clean_text
from deflect.errors import DeflectError, IndexUnavailable, NotFound, StoreUnavailable, ValidationFailed
from deflect.escalations import page_excerpt, suggested_pages
from deflect.examples import EXAMPLES, ExampleQuestions
from deflect.feedback import FeedbackDesk
from deflect.gaps import FeedbackSource, GapFinder, GapReport
from deflect.ingest.pipeline import Ingestor, Progress
from deflect.jobs import Job
from deflect.keys import KeyRing
from deflect.knowledge import KnowledgeWriter, Scrubber, knowledge_records
from deflect.policy import Evidence, PolicyRules, decide
from deflect.policy.decide import NO_ANSWER_TEXT
from deflect.policy.rules import PolicyConfig
from deflect.policy.semantic import PrototypeScorer
from deflect.retrieval.followup import keeps, with_earlier
from deflect.retrieval.hybrid import HybridRetriever
from deflect.retrieval.openings import FOLLOWING, NEARBY, with_openings

log = logging.getLogger(__name__)

RETRIEVE_K = 10
# How far back the knowledge job looks for self-serve votes a failed write lost. The write fails just after the
# withdrawal committed to the same database, and the job retries from its next run on (start-up, then every
# DEFLECT_KNOWLEDGE_RETRY_S): a week outlasts any outage a running server rides out unattended, and keeps each run's
# read to a week of self-serves, not a year's (benchmarks/self_serve_votes.py). `deflect feedback sweep` looks back
# over the votes' whole window, for an operator after a longer outage.
LOST_VOTES_WITHIN = timedelta(days=7)
Linkable = TypeVar("Linkable", Citation, Suggestion)
MAX_CONVERSATION = 20


class DeflectService:
    """Answers questions from the index or escalates them; keeps the index in step with the knowledge base."""

    def __init__(
        self,
        index: Index,
        retriever: HybridRetriever,
        generator: Generator,
        calibration: Callable[[], Calibration],
        ingestor: Ingestor,
        desk: EscalationDesk,
        policy: PolicyConfig,
        embedder: Embedder,
        knowledge: KnowledgeWriter,
        scrub: Scrubber,
        max_question_chars: int = 2000,
        answer_max_sources: int = 2,
        threshold_override: float | None = None,
        gap_feedback: FeedbackSource | None = None,
        feedback: FeedbackDesk | None = None,
        index_calls: Bounded | None = None,
        store_calls: Bounded | None = None,
        knowledge_calls: Bounded | None = None,
        knowledge_retry_s: float = 30.0,
        gaps_refresh_s: float = 0.0,
        recalibrate_every_s: float = 0.0,
        calibrator: Calibrator | None = None,
        auto_calibrate: bool = True,
        keys: KeyRing | None = None,
        suggest_excerpt: bool = True,
        trigger_embedder: Embedder | None = None,
    ) -> None:
        self._index = index
        self._retriever = retriever
        self._generator = generator
        # A streaming generator is a model call (seconds); the extractive one costs about a millisecond.
        self._drafts_are_cheap = not isinstance(generator, StreamingGenerator)
        # Quote the first suggested page to an escalated customer (only when drafts are cheap, as above).
        self._suggest_excerpt = suggest_excerpt
        # Loaded on first ask, so `deflect ingest` works before any calibration has been fitted.
        self._load_calibration = calibration
        self._calibration: Calibration | None = None
        self._threshold_override = threshold_override
        # Fits the calibration on this KB; `ingest` refits when the KB changed materially (see deflect.calibrate).
        self.calibrator = calibrator
        self._auto_calibrate = auto_calibrate
        self._ingestor = ingestor
        self._max_chars = max_question_chars
        self._max_sources = answer_max_sources
        self.desk = desk
        self._knowledge = knowledge
        self._scrub = scrub
        self._policy = policy
        self._embedder = embedder
        self.feedback = feedback  # votes on answers; the retriever applies their ranking adjustments
        if feedback is not None:
            desk.self_served_observers.append(self._credit_self_served_page)
            desk.self_serve_repeated_observers.append(self._credit_self_served_page)  # retries a lost vote
        self.keys = keys  # API keys and widget ids kept in the database (None: settings keys only)
        # Called with every ask's result, after it is stored (e.g. /metrics counts decisions); must not raise.
        self.observers: list[Callable[[AskResult], None]] = []
        self._gaps = GapFinder(
            desk.store,
            embedder,
            index,
            desk.clock,
            feedback=gap_feedback,
            max_age_s=gaps_refresh_s,
            scale=lambda: self.calibration.cosine_scale,
        )
        # The triggers' own model when retrieval runs another (deflect.wiring.build_trigger_embedder).
        triggers = policy.triggers
        self._scorer = (
            PrototypeScorer.from_triggers(trigger_embedder or embedder, triggers) if triggers.semantic else None
        )
        # Every read of the index while serving goes through this: a deadline, and a breaker while it is down.
        self._index_calls = index_calls or Bounded("index", 5.0, IndexUnavailable)
        # The database bounds its own waits (busy timeout); this also bounds a hung connection for readiness.
        self._store_calls = store_calls or Bounded("database", 6.0, StoreUnavailable, retry_after_s=0.0, workers=1)
        # The demo page's examples read the whole index, bounded on their own (one at a time, no breaker for asks).
        scan = Bounded("index scan", 60.0, IndexUnavailable, retry_after_s=0.0, workers=1)
        self._examples = ExampleQuestions(index, self._index_calls, scan)
        # Indexing a resolution: one at a time, bounded; what fails stays pending for the knowledge job.
        self._knowledge_calls = knowledge_calls or Bounded("knowledge", 30.0, IndexUnavailable, 0.0, workers=1)
        # The one writer of the index in this process: ingestion and resolutions' knowledge take turns.
        self._index_write_lock = threading.Lock()
        self._ingest_request: tuple[list[Path], Path] | None = None
        self.jobs = {
            # What committed actions left undone: resolutions' pending knowledge, and self-serve votes a write lost.
            "knowledge": Job("knowledge", self._follow_up, knowledge_retry_s),
            # On demand (POST /v1/admin/ingest, or `deflect ingest` while a server runs): the serving process owns
            # its index, so ingestion happens here while asks keep being answered.
            "ingest": Job("ingest", self._run_requested_ingest, interval_s=0.0),
            # Keeps the default gap report (30 days, clusters of 2+) warm, so GET /v1/gaps does not cluster.
            "gaps": Job("gaps", self._refresh_gaps, interval_s=gaps_refresh_s),
            # Refits the calibration when it went stale while serving: the desk labelled enough new questions
            # (deflect.calibrate.traffic), or another process fitted a newer one, which is then loaded.
            "calibration": Job(
                "calibration",
                self._recalibrate,
                interval_s=recalibrate_every_s if calibrator is not None and auto_calibrate else 0.0,
            ),
        }

    def _credit_self_served_page(self, escalation: Escalation) -> None:
        """A suggested page that solved a customer's problem counts as their helpful vote for it (for similar
        questions, through the feedback adjustment). Never raises: the withdrawal is stored already and is what the
        customer did; a vote that could not be stored is logged, the self-serve still succeeds, and the knowledge job
        (store_lost_self_served_votes) or the customer's repeat click (told here too) stores it then, once."""
        if self.feedback is None:
            return
        try:
            self.feedback.record_self_served(escalation)
        except Exception:  # any failure at all: the customer's action must not fail because of it
            log.exception("self-served escalation %s: its page's vote was not stored", escalation.id)

    @property
    def retriever(self) -> HybridRetriever:
        """The retriever (evaluation sweeps fusion weights over its candidates)."""
        return self._retriever

    @property
    def index(self) -> Index:
        """The index this service reads and writes."""
        return self._index

    @property
    def calibration(self) -> Calibration:
        """The confidence model in force (a calibrator caches it and swaps it when the KB is refitted)."""
        if self.calibrator is not None:
            return self.calibrator.current()
        if self._calibration is None:
            self._calibration = self._load_calibration()
        return self._calibration

    @property
    def rules(self) -> PolicyRules:
        """The policy rules in force (threshold from calibration unless overridden)."""
        cal = self.calibration
        threshold = cal.threshold if self._threshold_override is None else self._threshold_override
        return PolicyRules(
            answer_threshold=threshold,
            relevance_floor=cal.relevance_floor,
            version=self._policy.version,
            triggers=self._policy.triggers,
        )

    def ask(
        self,
        question: str,
        audience: Audience,
        conversation_id: str | None = None,
        conversation: Sequence[str] = (),
        customer_id: str | None = None,
        customer_tier: str | None = None,
        customer_name: str | None = None,
        claimed_customer: Mapping[str, str] | None = None,
        record: bool = True,
        answer_id: str | None = None,
        on_text: Callable[[str], None] | None = None,
        requester: str | None = None,
    ) -> AskResult:
        """Answer with citations, or escalate with reasons and a stored packet. Customers only search public content.

        An escalation is committed to the store before this returns, so no caller is told about one that was lost.
        When the index fails or times out the question is still escalated (reason `index_unavailable`), so the
        asker gets a hand-off; when the database fails, StoreUnavailable says nothing was stored.
        `customer_*` are trusted (priority, SLA, repeat contact); `claimed_customer` is what an unverified caller
        said about itself, recorded for the agent and used for nothing else.
        `record=False` is a dry run: the same retrieval, confidence, decision and answer, but no answer record, no
        escalation and no audit event; the result says `dry_run` and, if it would escalate, its reasons and priority
        without an escalation id.
        `answer_id` names the answer (a stream announces it before the answer exists; default: a new one).
        `on_text` gets an answer's checked text while a streaming generator writes it, before the decision is
        stored; only when the policy decided to answer (never a draft or a hand-off).
        `requester`: the customer caller an escalation is bound to, who alone may withdraw it (desk.self_serve)."""
        started = time.perf_counter()
        question = validate_question(question, self._max_chars)
        history = tuple(conversation)[-MAX_CONVERSATION:]
        try:
            hits, feats = self._index_calls.call(self.evidence, question, audience)
            index_available = True
        except IndexUnavailable as exc:
            log.warning("escalating without the index: %s", exc.message)
            hits, feats, index_available = [], features(question, []), False
        confidence = self.calibration.confidence(feats) if index_available else 0.0
        # What was searched: the question, or a follow-up with the asker's earlier message (retrieval.followup).
        searched = question
        if index_available and history:
            searched, hits, feats, confidence = self._as_follow_up(question, history, audience, hits, feats, confidence)
        rules = self.rules
        repeat = rules.triggers.repeat_contact
        # The policy's similarity is MiniLM's; another model's cosines are read on its own scale (e5 puts unrelated
        # questions at 0.78: at a raw 0.8 any two questions of one customer would be one problem asked twice).
        similar = self.calibration.cosine_scale.from_reference(repeat.min_similarity)
        recent = (
            self.desk.recent_similar(customer_id, question, self._embedder, repeat.window_days, similar)
            if customer_id
            else 0
        )
        # The asker's own names: scrubbed from what is stored, and never taken for a product the KB lacks.
        claimed = dict(claimed_customer or {})
        names = asker_names(customer_id, customer_name, claimed)
        evidence = Evidence(
            confidence,
            hits[0].dense if hits else None,
            len(hits),
            conversation=history,
            recent_similar_contacts=recent,
            semantic_scores=self._scorer.score(question) if self._scorer else {},
            index_available=index_available,
            unknown_names=unknown_names(question, hits, names) if index_available else (),
        )
        verdict = decide(question, evidence, rules)
        reasons = list(verdict.reasons)
        answer = None
        quotable: list[SourceHit] = []  # the drafted sources, openings and neighbours read: an excerpt reuses them
        # A risk trigger over a confident KB answer still gets an answer drafted: it goes into the packet for the
        # agent who picks the escalation up, and is shown to the asker only when the asker is an agent. So does a
        # relevant but unsure one (only low confidence escalated it), marked as such: on a manual deflect cannot
        # vouch for, the agent still starts from what the KB says. For a customer's question it is drafted only
        # when drafting costs nothing (no model call delays the customer's hand-off for a packet-only draft).
        unsure = verdict.unsure_draft and (audience is Audience.AGENT or self._drafts_are_cheap)
        if verdict.decision is Decision.ANSWER or verdict.draft_allowed or unsure:
            sources = hits[: self._max_sources]
            # Only a how-to answer quotes a page's opening (deflect.answer.extractive); the chunks next to the first
            # source's retrieved ones are candidates of every answer, read in the same one read.
            sources = quotable = self._with_openings(sources, audience, asks_how(searched))
            generator = self._generator
            shown = verdict.decision is Decision.ANSWER  # a draft is never streamed: only agents see it, in the packet
            if on_text is not None and shown and isinstance(generator, StreamingGenerator):
                answer = generator.stream(searched, sources, on_text)
            else:
                answer = generator.generate(searched, sources)
            if not (answer.text and answer.citations):
                answer = None
                if verdict.decision is Decision.ANSWER:
                    reasons.append(NO_ANSWER_TEXT)
        answer_id = answer_id or new_answer_id()
        # Pages that may help a customer while they wait; agents have the draft and its citations instead.
        suggested = (
            [linked(p) for p in suggested_pages(hits, audience.visible(), rules.relevance_floor)]
            if verdict.suggest_pages and audience is Audience.CUSTOMER
            else []
        )
        if suggested and self._suggest_excerpt and self._drafts_are_cheap:
            excerpt = self._excerpt(searched, suggested[0], hits, quotable, audience)
            suggested[0] = suggested[0].model_copy(update={"excerpt": excerpt})
        excerpts = {p.source_id: p.excerpt for p in suggested if p.excerpt}
        # What is stored (audit log, escalation packet) is scrubbed of personal data; the reply echoes the asker.
        stored_question = self._scrub(question, names)
        stored_history = [self._scrub(m, names) for m in history]
        decision = Decision.ESCALATE if reasons else Decision.ANSWER
        audit = {
            "decision": decision.value,
            "question": stored_question,
            "audience": audience.value,
            "conversation_id": conversation_id,
            # The other inputs the triggers read, so an answered question's audit says what was decided on.
            "conversation": list(stored_history),
            "customer_id": customer_id,
            "customer_tier": customer_tier,
            "claimed_customer": {k: self._scrub(v, names) if k == "name" else v for k, v in claimed.items()},
            "recent_similar_contacts": recent,
            "confidence": round(confidence, 4),
            "features": {k: round(v, 4) for k, v in feats.items()},
            "reasons": reasons,
            "sources": [{"source_id": h.source_id, "score": round(h.score, 4)} for h in hits],
            "cited": [c.source_id for c in answer.citations] if answer else [],
            "suggested": [p.source_id for p in suggested],
            "excerpt_from": next(iter(excerpts), None),  # the suggested page quoted to the customer, if any
            "policy_version": rules.version,
            "threshold": rules.answer_threshold,
            "generator": self._generator.name,
        }
        if searched != question:  # a follow-up, searched with the earlier message (scrubbed as the question is)
            audit["searched"] = self._scrub(searched, names)
        escalation_id = priority = draft = None
        draft_citations: list[Citation] = []
        if decision is Decision.ANSWER and answer is not None:
            text, citations = answer.text, [linked(c) for c in answer.citations]
            if record:
                self.desk.record_answer(answer_id, "deflect", audit)
        else:
            packet_draft = answer.text if answer is not None else None
            draft = packet_draft if audience is Audience.AGENT else None
            if draft is not None and answer is not None:
                draft_citations = [linked(c) for c in answer.citations]
            esc, text = self.desk.escalate(
                answer_id=answer_id,
                question=stored_question,
                audience=audience,
                reasons=reasons,
                hits=hits,
                policy_version=rules.version,
                decision_data=audit,
                draft_answer=packet_draft,
                conversation=stored_history,
                conversation_id=conversation_id,
                customer_id=customer_id,
                customer_name=customer_name,
                customer_tier=customer_tier,
                claimed_customer=claimed,
                record=record,
                suggested_ids=[p.source_id for p in suggested],
                excerpts=excerpts,
                requester=requester,
            )
            citations, escalation_id, priority = [], esc.id if record else None, esc.priority.value
        result = AskResult(
            id=answer_id,
            question=question,
            audience=audience,
            decision=decision,
            answer=text,
            citations=citations,
            confidence=round(confidence, 4),
            reasons=reasons,
            latency_ms=round((time.perf_counter() - started) * 1000, 2),
            retrieved=[h.source_id for h in hits],
            conversation_id=conversation_id,
            escalation_id=escalation_id,
            priority=priority,
            draft_answer=draft,
            # unsure_draft and draft_allowed exclude each other (policy): an unsure draft is never a confident one.
            draft_below_threshold=draft is not None and unsure,
            draft_citations=draft_citations,
            suggested=suggested,
            dry_run=not record,
        )
        for observe in self.observers if record else ():  # a dry run is no traffic: metrics do not count it
            observe(result)
        return result

    def report_undelivered(self, result: AskResult) -> None:
        """Audit that the asker disconnected before the reply with this escalation was sent: the packet stays
        (the question was asked), marked `handoff_undelivered` so the team knows the customer was never told."""
        log.warning("escalation %s created but the client disconnected before the reply", result.escalation_id)
        self.desk.store.append_audit(
            [
                AuditEvent(
                    at=self.desk.clock(),
                    kind="action",
                    actor="deflect",
                    answer_id=result.id,
                    escalation_id=result.escalation_id,
                    action="handoff_undelivered",
                    data={"latency_ms": result.latency_ms},
                )
            ]
        )

    def resolve_escalation(
        self,
        escalation_id: str,
        actor: str,
        resolution: str,
        publish: bool = False,
        public_resolution: str | None = None,
        note: str | None = None,
    ) -> tuple[Escalation, list[str], float | None]:
        """Resolve, and turn the resolution into knowledge: scrubbed, written to the kb, indexed at once.

        The resolution and its knowledge records are committed in one transaction, so a crash or an index outage
        loses nothing: the records stay pending and the knowledge job indexes them (at start-up and periodically).
        Returns the escalation, the knowledge source ids and how long until they were searchable (ms), or None
        while pending. Retrying a resolve with the same resolution returns the same result instead of a 409."""
        current = self.desk.get(escalation_id)
        # The stored resolution is the scrubbed one (desk.act); one stored raw before that was so still matches.
        stored = self.desk.stored_text(current, resolution).strip()
        if current.state is State.RESOLVED and (current.resolution or "").strip() in (stored, resolution.strip()):
            return current, *self._knowledge_result(escalation_id, actor)

        def knowledge_for(esc: Escalation) -> PendingKnowledge:
            resolved_at = esc.sla.resolved_at or self.desk.clock()
            names = customer_names(esc)
            records = knowledge_records(esc, resolution, resolved_at, self._scrub, publish, public_resolution, names)
            return PendingKnowledge(escalation_id=esc.id, records=records, created_at=resolved_at)

        payload = {"resolution": resolution} | ({"note": note} if note else {})
        esc = self.desk.act(escalation_id, "resolve", actor, knowledge_for=knowledge_for, **payload)
        return esc, *self._knowledge_result(escalation_id, actor)

    def _knowledge_result(self, escalation_id: str, actor: str) -> tuple[list[str], float | None]:
        pending = self.desk.store.knowledge(escalation_id)
        if pending is None:  # resolved before knowledge records existed (a database from before migration 0003)
            return [], None
        source_ids = [f"esc:{r['id']}" for r in pending.records]
        if pending.indexed_at is None:
            self._index_knowledge(pending, actor)
            pending = self.desk.store.knowledge(escalation_id) or pending
        if pending.indexed_at is None:
            return source_ids, None
        return source_ids, round((pending.indexed_at - pending.created_at).total_seconds() * 1000, 2)

    def _follow_up(self) -> dict[str, object]:
        """The knowledge job's work. The votes go first (one read when none is lost) and never raise, so a failure
        there cannot keep pending knowledge from being indexed, nor an indexing failure the votes from being stored."""
        votes = self.store_lost_self_served_votes()
        return {**self.index_pending_knowledge(), "self_served_votes": votes}

    def store_lost_self_served_votes(self) -> dict[str, object]:
        """Store the helpful votes that failed writes lost, of self-served escalations raised in the last
        LOST_VOTES_WITHIN (FeedbackDesk.store_lost_self_served_votes): counts stored and failed. Never raises: a
        failure is logged and reported, and the next run tries again (the widget never repeats the click that would
        otherwise retry it)."""
        if self.feedback is None:
            return {"stored": 0, "failed": 0}
        try:
            return dict(self.feedback.store_lost_self_served_votes(within=LOST_VOTES_WITHIN))
        except Exception as exc:  # the database down, say: the job runs again after its interval
            log.exception("self-serve votes: the retry failed; the knowledge job's next run tries again")
            return {"error": f"{type(exc).__name__}: {exc}"}

    def index_pending_knowledge(self) -> dict[str, int]:
        """The knowledge job's work: index every pending resolution; counts of indexed and still pending."""
        indexed = failed = 0
        for pending in self.desk.store.pending_knowledge():
            if self._index_knowledge(pending, "deflect"):
                indexed += 1
            else:
                failed += 1
        return {"indexed": indexed, "pending": failed}

    def _index_knowledge(self, pending: PendingKnowledge, actor: str) -> bool:
        """Write the records to the kb file (once) and index them, bounded; mark them searchable. False (and the
        error recorded, the records still pending) when the index, the kb file or the database fails."""
        if not self._index_write_lock.acquire(timeout=self._knowledge_calls.timeout_s):
            return False  # another indexing run holds it (a hung index): the job comes back to this one
        try:
            latest = self.desk.store.knowledge(pending.escalation_id)
            if latest is not None and latest.indexed_at is not None:
                return True  # done meanwhile (the job and a retried resolve raced)
            started = time.perf_counter()
            try:
                docs = self._knowledge_calls.call(self._write_and_index, pending.records)
            except DeflectError as exc:
                log.warning("knowledge of %s stays pending: %s", pending.escalation_id, exc.message)
                self.desk.store.mark_knowledge(pending.escalation_id, None, exc.message)
                return False
            elapsed_ms = round((time.perf_counter() - started) * 1000, 2)
            self.desk.store.mark_knowledge(pending.escalation_id, self.desk.clock())
            answer_id = self.desk.get(pending.escalation_id).answer_id
            self.desk.store.append_audit(
                [
                    AuditEvent(
                        at=self.desk.clock(),
                        kind="action",
                        actor=actor,
                        answer_id=answer_id,
                        escalation_id=pending.escalation_id,
                        action="knowledge_added",
                        data={
                            "sources": [d.source_id for d in docs],
                            "audiences": [d.audience for d in docs],
                            "ms": elapsed_ms,
                            "attempt": pending.attempts + 1,
                        },
                    )
                ]
            )
            return True
        except StoreUnavailable as exc:
            log.warning("knowledge of %s: database unavailable: %s", pending.escalation_id, exc.message)
            return False
        finally:
            self._index_write_lock.release()

    def _write_and_index(self, records: list[dict[str, object]]) -> list[SourceDoc]:
        docs = self._knowledge.append_missing(records, self._ingestor.signature)
        self._ingestor.sync(docs)  # only these sources: nothing else is re-read, re-embedded or pruned
        self._retriever.invalidate()
        # "Searchable" means a real search finds it: ask for the question as its audience would (this also
        # rebuilds the keyword index now rather than on the next asker's time).
        for doc in docs:
            audience = Audience.CUSTOMER if doc.audience == "public" else Audience.AGENT
            found = [h.source_id for h in self._retriever.retrieve(doc.body, audience.visible(), k=RETRIEVE_K)]
            if doc.source_id not in found:
                log.warning("resolved knowledge %s not retrieved for its own question", doc.source_id)
        return docs

    def request_ingest(self, paths: Sequence[Path], root: Path) -> bool:
        """Start the ingest job on these paths in the background; False if one is already running."""
        job = self.jobs["ingest"]
        if job.status()["busy"]:
            return False
        self._ingest_request = (list(paths), root)
        return job.trigger()

    def _run_requested_ingest(self) -> dict[str, object]:
        request, self._ingest_request = self._ingest_request, None
        if request is None:
            return {"skipped": "nothing requested"}
        job = self.jobs["ingest"]
        job.progress = {"embedded": 0, "total": None}

        def progress(done: int, total: int) -> None:
            job.progress = {"embedded": done, "total": total}

        report = self.ingest(request[0], request[1], progress)
        return report.model_dump(mode="json")

    def _recalibrate(self) -> dict[str, str]:
        # The job runs once at start-up too: the service has just loaded its calibration then, and ingest (which
        # refits when stale) may be about to run, so the first check waits for the first interval.
        if self.calibrator is None or self.jobs["calibration"].runs == 0:
            return {"calibration": "not checked at start-up"}
        loaded = self.calibrator.reload_if_newer()
        # Not beside an ingest, which refits by itself when it ends. The index write lock is not taken: a refit
        # only reads the index and takes seconds to minutes, and a resolution must become searchable meanwhile.
        if self.jobs["ingest"].status()["busy"]:
            return {"calibration": "not checked: an ingest is running and refits when it ends"}
        # Every chunk is not read back to see what changed: this process's ingests refit when they end, and another
        # process's (a shared Chroma server) refits there, and its calibration is loaded above. At 100k chunks that
        # read is tens of seconds and hundreds of megabytes every interval.
        done = self.calibrator.refresh_if_stale(read_sources=False)
        return {"calibration": done if done != "kept" or not loaded else "loaded the one another process fitted"}

    def start_jobs(self) -> None:
        """Start the service's periodic background jobs (the server calls this at start-up)."""
        for job in self.jobs.values():
            if job.interval_s > 0:
                job.start()

    def stop_jobs(self) -> None:
        for job in self.jobs.values():
            job.stop()

    def gaps(self, days: float = 30, min_size: int = 2) -> GapReport:
        """Content gaps: clusters of escalated and unhelpful questions in the last `days` days (at most
        DEFLECT_GAPS_REFRESH_S old when served)."""
        return self._gaps.gaps(days=days, min_size=min_size)

    def _refresh_gaps(self) -> dict[str, int]:
        report = self._gaps.refresh()
        return {"questions": report.questions, "clusters": len(report.clusters)}

    def _as_follow_up(
        self,
        question: str,
        history: Sequence[str],
        audience: Audience,
        hits: list[SourceHit],
        feats: dict[str, float],
        confidence: float,
    ) -> tuple[str, list[SourceHit], dict[str, float], float]:
        """A follow-up searched again with the asker's earlier message in front, kept when retrieval.followup.keeps
        says so; otherwise (not a follow-up, or the index fails now) the question's own search stands."""
        joined = with_earlier(question, history)
        if joined is None:
            return question, hits, feats, confidence
        try:
            joined_hits, joined_feats = self._index_calls.call(self.evidence, joined, audience)
        except IndexUnavailable as exc:
            log.warning("a follow-up searched on its own: %s", exc.message)
            return question, hits, feats, confidence
        joined_confidence = self.calibration.confidence(joined_feats)
        if keeps(hits, confidence, joined_hits, joined_confidence):
            return joined, joined_hits, joined_feats, joined_confidence
        return question, hits, feats, confidence

    def evidence(self, question: str, audience: Audience) -> tuple[list[SourceHit], dict[str, float]]:
        """Ranked sources the audience may see, and the confidence features computed from them in the order of their
        scores: anchor text reorders sources without changing a score (deflect.retrieval.anchors), and a page it
        moves above a higher-scoring one would show confidence a negative margin no self-calibration probe ever had
        (probes are ranked without anchors), escalating the page however right it is."""
        hits = self._retriever.retrieve(question, audience.visible(), k=RETRIEVE_K)
        return hits, features(question, sorted(hits, key=by_score))

    def _excerpt(
        self, question: str, page: Suggestion, hits: Sequence[SourceHit], read: Sequence[SourceHit], audience: Audience
    ) -> str:
        """The first suggested page's excerpt (deflect.escalations.suggest.page_excerpt): from its hit as the draft
        read it (`read`, with openings and neighbours) or, when the draft did not quote that page, read now."""
        own = [h for h in read if h.source_id == page.source_id]
        if not own:
            own = self._with_openings([h for h in hits if h.source_id == page.source_id], audience, asks_how(question))
        return page_excerpt(question, page, own, self._generator.generate)

    def _with_openings(self, sources: list[SourceHit], audience: Audience, openings: bool) -> list[SourceHit]:
        """The sources an answer quotes, with their pages' openings when `openings`, the neighbours that complete a
        passage their chunks cut and the chunks next to an article's retrieved ones when it is the first source
        (deflect.retrieval.openings), in one read; without them when the index fails now, since the answer can do
        without."""
        neighbours = neighbours_wanted(sources)
        nearby = NEARBY if sources and sources[0].kind == "article" else 0
        if not (openings or neighbours or nearby):
            return sources
        try:
            following = FOLLOWING if openings else 0  # a section's example, for a how-to answer (openings' docstring)
            return self._index_calls.call(
                with_openings,
                self._index,
                sources,
                audience.visible(),
                neighbours,
                openings,
                following,
                nearby,
                self._retriever.keyword,
            )
        except IndexUnavailable as exc:
            log.warning("answering without page openings or neighbours: %s", exc.message)
            return sources

    def source(self, source_id: str, audience: Audience) -> list[Chunk]:
        """A source's chunks in order, read with the caller's audience filter: a source the caller may not see
        is NotFound, exactly as one that does not exist (its existence is not disclosed)."""
        found = self.index.chunks(audiences=audience.visible(), source_ids=[source_id])
        if not found:
            raise NotFound("no such source", [{"source_id": source_id}])
        return sorted(found, key=_chunk_position)

    def example_questions(self, n: int = EXAMPLES) -> list[str]:
        """A few public article titles of the index, for a help page to offer as questions (deflect.examples); []
        when nothing public is indexed, IndexUnavailable when the index cannot be read now."""
        return self._examples.get(n)

    def ingest(self, paths: Sequence[Path], root: Path, progress: Progress | None = None) -> IngestReport:
        """Bring the index in line with the given knowledge files. One writer at a time in this process (an
        ingest and the knowledge job must not prune each other's sources)."""
        with self._index_write_lock:
            report = self._ingestor.ingest_paths(paths, root, progress)
        self._retriever.invalidate()
        self._examples.invalidate()
        if self.calibrator is not None and self._auto_calibrate:
            report.calibration = self.calibrator.refresh_if_stale()
        return report

    def readiness(self) -> dict[str, bool]:
        """What this process can do right now, each check bounded: the index answers a real (one-result) query
        and holds chunks, the database takes a write lock, the model is loaded (at construction)."""
        checks = {"index": False, "indexed": False, "database": False, "model": True}
        try:
            chunks = self._index_calls.call(self._probe_index)
            checks["index"], checks["indexed"] = True, chunks > 0
        except IndexUnavailable as exc:
            log.warning("readiness: index unavailable: %s", exc.message)
        try:
            self._store_calls.call(self.desk.store.ping)
            checks["database"] = True
        except StoreUnavailable as exc:
            log.warning("readiness: database unavailable: %s", exc.message)
        return checks

    def _probe_index(self) -> int:
        chunks = self._index.count()
        if chunks:
            self._index.query(self._embedder.embed_questions(["readiness probe"])[0], 1, Audience.CUSTOMER.visible())
        return chunks

    def require_index(self) -> None:
        """Raise IndexUnavailable when there is nothing to search."""
        if not self.readiness()["indexed"]:
            raise IndexUnavailable("the index is empty; run `deflect ingest` first")


def _chunk_position(chunk: Chunk) -> tuple[int, str]:
    """Order by the chunk's number in its source, not its id as text (#10 after #9)."""
    return (max(chunk_number(chunk.chunk_id), 0), chunk.chunk_id)


def source_view_url(source_id: str) -> str:
    """deflect's own page for a source (GET /sources/{id}); ids hold `:` and `/`, which stay as they are."""
    return "/sources/" + quote(source_id, safe=":/")


def linked(citation: Linkable) -> Linkable:
    """A citation (or suggested page) whose source has no url links to deflect's source view, so every one opens
    something."""
    return citation if citation.url else citation.model_copy(update={"url": source_view_url(citation.source_id)})


def new_answer_id() -> str:
    """A fresh answer id."""
    return "ans_" + uuid.uuid4().hex


def validate_question(question: object, max_chars: int) -> str:
    """Non-empty NFC text of at most `max_chars` characters, without control or zero-width characters."""
    if not isinstance(question, str):
        raise ValidationFailed("question must be a string", [{"field": "question", "problem": "not_text"}])
    text = clean_text(question)
    if not text:
        raise ValidationFailed(
            "question must not be empty (after removing control and invisible characters)",
            [{"field": "question", "problem": "empty"}],
        )
    if len(text) > max_chars:
        raise ValidationFailed(
            f"question is longer than {max_chars} characters",
            [{"field": "question", "problem": "too_long", "limit": max_chars}],
        )
    return text
