"""The one place that turns Settings into real clients (Chroma, embedder, generator) and a DeflectService."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from deflect.answer.confidence import Calibration
from deflect.answer.extractive import ExtractiveGenerator
from deflect.bounded import Bounded
from deflect.calibrate.store import CalibrationStore
from deflect.config import Settings
from deflect.desk import EscalationDesk
from deflect.domain.ports import AnchorIndex, Embedder, Generator, Index, KeywordIndex, Store
from deflect.errors import ConfigError, IndexUnavailable, StoreUnavailable
from deflect.escalations.config import load_escalation_config
from deflect.ingest.chunking import Chunker
from deflect.ingest.pipeline import Ingestor
from deflect.keys import KeyRing
from deflect.knowledge import KnowledgeWriter, Scrubber
from deflect.offline import offline_environment
from deflect.policy.loader import load_policy
from deflect.retrieval.hybrid import HybridRetriever
from deflect.retrieval.keyword import KeywordSearch

if TYPE_CHECKING:  # numpy comes with these: imported in the builders, so build_desk/build_store stay light
    from deflect.calibrate.calibrator import Calibrator
    from deflect.service import DeflectService

log = logging.getLogger(__name__)


def install_log_scrubbing() -> None:
    """Scrub personal data from every log record: the filter sits on the root handlers (a logger's own filter
    would miss records propagated from child loggers); a handler is created if there is none yet."""
    from deflect.pii import PiiLogFilter

    root = logging.getLogger()
    if not root.handlers:
        # WARNING, the root default: the point is the filter, not more output on every CLI command.
        logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for handler in root.handlers:
        if not any(isinstance(f, PiiLogFilter) for f in handler.filters):
            handler.addFilter(PiiLogFilter())


def build_index(settings: Settings) -> Index:
    """Chroma, embedded or client/server as configured."""
    from deflect.index.chroma import ChromaIndex  # chromadb loads in ~0.5 s: only commands that search pay it

    if settings.chroma_mode == "http":
        return ChromaIndex.http(
            settings.chroma_host,
            settings.chroma_port,
            settings.chroma_collection,
            settings.chroma_ef_search,
            timeout_s=settings.index_timeout_s,
        )
    return ChromaIndex.embedded(settings.chroma_path, settings.chroma_collection, settings.chroma_ef_search)


def build_anchor_index(settings: Settings, index: Index) -> AnchorIndex | None:
    """The anchors' Chroma collections beside `index`'s chunks, through its client; None when anchor text is off
    (DEFLECT_ANCHOR_WEIGHT=0) or the index is not Chroma."""
    from deflect.index.anchors import ChromaAnchorIndex
    from deflect.index.chroma import ChromaIndex

    if settings.anchor_weight <= 0 or not isinstance(index, ChromaIndex):
        return None
    return ChromaAnchorIndex(index.client, settings.chroma_collection, settings.chroma_ef_search)


def build_keyword_index(settings: Settings, store: Store | None = None) -> KeywordIndex:
    """PostgreSQL full text in the store's database when the store is PostgreSQL (shared by every worker on every
    machine); otherwise SQLite FTS5 in a file under data_dir (shared by every process on this machine)."""
    if getattr(store, "dialect", None) == "postgresql":
        from deflect.store.keyword import PostgresKeywordIndex

        return PostgresKeywordIndex(settings.database_url, settings.chroma_collection, settings.database_timeout_s)
    from deflect.index.keyword import SqliteKeywordIndex

    return SqliteKeywordIndex(
        settings.data_dir / "keyword" / f"{settings.chroma_collection}.sqlite3", settings.database_timeout_s
    )


def build_embedder(settings: Settings) -> Embedder:
    """The model named in settings, loaded from a local path or a package, behind a cache of recent embeddings (one
    ask needs its question's vector in four places)."""
    return _sentence_embedder(settings, settings.embedding_model)


def _sentence_embedder(settings: Settings, model: str) -> Embedder:
    """`model` (a packaged alias or a local path) with the settings' threads and batch, behind the cache."""
    from deflect.index.e5 import E5_MODELS
    from deflect.index.embedder import PACKAGED_MODELS, SPLIT_MODELS, CachedEmbedder, SentenceTransformerEmbedder

    aliases = [*PACKAGED_MODELS, *SPLIT_MODELS, *E5_MODELS]
    if model not in aliases and not Path(model).is_dir():
        # Said here, where every alias is known: sentence-transformers' loader knows its own aliases, not e5's.
        raise ConfigError(
            f"embedding model {model!r} is neither a packaged alias ({', '.join(aliases)}) nor a local directory; "
            "deflect never downloads models at run time"
        )
    if model in E5_MODELS:
        from deflect.index.e5 import E5Embedder

        return CachedEmbedder(
            E5Embedder(
                model,
                settings.embedding_threads,
                settings.embedding_batch_size,
                batch_threads=settings.embedding_ingest_threads,
            )
        )
    return CachedEmbedder(
        SentenceTransformerEmbedder(
            model,
            settings.embedding_threads,
            settings.embedding_batch_size,
            cache_dir=settings.data_dir / "models",
            batch_threads=settings.embedding_ingest_threads,
        )
    )


def build_trigger_embedder(settings: Settings, retrieval: Embedder | None = None) -> Embedder | None:
    """The embedder the semantic escalation triggers score with: `retrieval` itself when the policy's thresholds, or
    a variant of them for DEFLECT_EMBEDDING_MODEL (`semantic_variants`), were tuned for it (the question is then
    embedded once for both), else the model they were tuned for, loaded beside it.

    A prototype cosine from another model is on another scale, so with DEFLECT_EMBEDDING_MODEL=mpnet (or a model of
    the team's own) the triggers would otherwise fall back to their patterns alone, and a frustrated customer or a
    request for a human that only the prototypes catch would be answered instead of handed over. The second model
    costs its memory (~90 MB for the packaged MiniLM) and one more question encoding per ask (~8 ms here); only a
    `semantic_model` deflect cannot load leaves the patterns alone, with the scorer's warning.
    None: the policy has no semantic rules."""
    from deflect.policy.semantic import tuned_for

    triggers = load_policy(settings.policy_file).for_model(settings.embedding_model).triggers
    if not triggers.semantic:
        return None
    if retrieval is not None and tuned_for(retrieval.name, triggers.semantic_model):
        return retrieval
    if retrieval is not None and not tuned_for(retrieval.name, settings.embedding_model):
        # Not the configured model (a test's fake embedder): the scorer's own fallback applies, as before.
        return retrieval
    try:
        return _sentence_embedder(settings, triggers.semantic_model)
    except ConfigError as exc:
        log.warning("semantic triggers cannot load their model: %s", exc)
        return retrieval


def build_generator(settings: Settings, embedder: Embedder) -> Generator:
    """Extractive by default; Ollama when configured, falling back to extractive sentence by sentence."""
    extractive = ExtractiveGenerator(settings.answer_max_sources, settings.answer_max_chars)
    if settings.generator == "ollama":
        from deflect.answer.ollama import OllamaGenerator

        return OllamaGenerator.from_settings(settings, fallback=extractive)
    return extractive


def assemble(
    settings: Settings,
    index: Index,
    embedder: Embedder,
    generator: Generator | None = None,
    calibration: Calibration | None = None,
    store: Store | None = None,
    scrub: Scrubber | None = None,
    keyword_index: KeywordIndex | None = None,
    anchors: AnchorIndex | None = None,
    trigger_embedder: Embedder | None = None,
) -> DeflectService:
    """Build the service from given parts; tests pass fakes here, production passes real clients. Anchor text is
    used only with an anchor index given and DEFLECT_ANCHOR_WEIGHT above 0. `trigger_embedder` scores the semantic
    triggers (`build_trigger_embedder`); None: `embedder`."""
    from deflect.feedback import FeedbackDesk
    from deflect.gaps import GapQuestion
    from deflect.service import DeflectService

    store = store or build_store(settings)
    keyword_index = keyword_index or build_keyword_index(settings, store)
    keyword = KeywordSearch(keyword_index, index)
    scrubber = scrub or build_scrubber()
    feedback = FeedbackDesk(store, embedder, scrub=lambda text: scrubber(text, ()))
    anchors = anchors if settings.anchor_weight > 0 else None
    retriever = HybridRetriever(
        index,
        embedder,
        keyword,
        settings.fusion_bm25_weight,
        settings.retrieval_candidates,
        adjust=feedback.adjust,
        anchors=anchors,
        anchor_weight=settings.anchor_weight,
        anchor_floor=settings.anchor_floor,
    )
    chunker = Chunker(settings.chunk_size, settings.chunk_overlap, settings.embed_page_lead)
    ingestor = Ingestor(
        index,
        embedder,
        chunker,
        keyword_index,
        settings.parse_memo_path,
        anchors=anchors,
        parse_workers=settings.ingest_parse_workers,
    )
    calibrator = build_calibrator(settings, index, retriever, embedder, store)
    # A calibration passed in (tests) is fixed; otherwise the KB's own, fitted and refitted by the calibrator.
    current = (lambda: calibration) if calibration else calibrator.current
    feedback.scale = lambda: current().cosine_scale
    retriever.scale = lambda: current().cosine_scale
    return DeflectService(
        index=index,
        retriever=retriever,
        generator=generator or build_generator(settings, embedder),
        calibration=current,
        calibrator=None if calibration else calibrator,
        ingestor=ingestor,
        desk=EscalationDesk(store, load_escalation_config(settings.escalation_file), scrub=scrubber),
        policy=load_policy(settings.policy_file).for_model(settings.embedding_model),
        embedder=embedder,
        trigger_embedder=trigger_embedder,
        knowledge=KnowledgeWriter(settings.kb_dir),
        scrub=scrubber,
        feedback=feedback,
        gap_feedback=lambda since, until: [
            GapQuestion(text=r.question, at=r.at, origin="unhelpful", answer_id=r.answer_id)
            for r in feedback.unhelpful(since, until)
            if r.question
        ],
        max_question_chars=settings.max_question_chars,
        answer_max_sources=settings.answer_max_sources,
        suggest_excerpt=settings.suggest_excerpt,
        threshold_override=settings.confidence_threshold,
        index_calls=Bounded("index", settings.index_timeout_s, IndexUnavailable, settings.index_retry_after_s),
        store_calls=Bounded("database", settings.database_timeout_s + 1, StoreUnavailable, 0.0, workers=1),
        # Indexing one resolution embeds and writes a few chunks and searches for them: several index round trips.
        knowledge_calls=Bounded("knowledge", 6 * settings.index_timeout_s, IndexUnavailable, 0.0, workers=1),
        knowledge_retry_s=settings.knowledge_retry_s,
        gaps_refresh_s=settings.gaps_refresh_s,
        recalibrate_every_s=settings.recalibrate_every_s,
        keys=KeyRing(store),
    )


def build_calibrator(
    settings: Settings, index: Index, retriever: HybridRetriever, embedder: Embedder, store: Store | None = None
) -> Calibrator:
    """The calibration of this index: an explicit file when configured, else fitted on the KB itself (and, with a
    store and `calibrate_from_traffic`, on the questions its desk labelled)."""
    from datetime import UTC, datetime

    from deflect.calibrate import traffic
    from deflect.calibrate.calibrator import Calibrator
    from deflect.calibrate.selfcal import SelfCalibrationSettings

    window = traffic.TrafficSettings(max_age_days=settings.traffic_max_age_days)
    desk = (
        (lambda: traffic.from_store(store, store, window, datetime.now(UTC)))
        if store is not None and settings.calibrate_from_traffic
        else None
    )

    return Calibrator(
        index,
        retriever,
        embedder,
        CalibrationStore(settings.self_calibration_path, settings.calibration_file),
        SelfCalibrationSettings(
            target_risk=settings.target_risk,
            max_probes=settings.calibration_probes,
            uncovered_share=settings.calibration_uncovered_share,
        ),
        recalibrate_share=settings.recalibrate_share,
        traffic=desk,
        traffic_min_cases=settings.traffic_min_cases,
    )


def build_scrubber() -> Scrubber:
    """PII scrubbing for everything the knowledge loop writes."""
    from deflect.pii import scrub_text

    return scrub_text


def build_store(settings: Settings) -> Store:
    """The SQL store at settings.database_url, migrated to the latest schema."""
    from deflect.store.sql import SqlStore

    return SqlStore(settings.database_url, busy_timeout_s=settings.database_timeout_s)


def build_desk(settings: Settings) -> EscalationDesk:
    """The escalation desk alone (store + escalation config): no model, no index, for the workflow CLI."""
    return EscalationDesk(build_store(settings), load_escalation_config(settings.escalation_file))


def build_service(settings: Settings) -> DeflectService:
    """The production service: real Chroma, real embedder, configured generator."""
    offline_environment()
    install_log_scrubbing()
    if settings.log_format == "json":
        from deflect.logs import use_json_logs

        use_json_logs()
    index = build_index(settings)
    embedder = build_embedder(settings)
    return assemble(
        settings,
        index,
        embedder,
        anchors=build_anchor_index(settings, index),
        trigger_embedder=build_trigger_embedder(settings, embedder),
    )
