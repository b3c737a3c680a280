"""Run golden cases through the real service against a throwaway index, never the user's."""

from __future__ import annotations

import json
import shutil
import tempfile
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, Field

from deflect.answer.confidence import Calibration
from deflect.config import Settings
from deflect.domain.ports import Embedder
from deflect.domain.text import clean_text
from deflect.errors import ConfigError
from deflect.evaluation.calibration import RISK_TAGS, Sample, fit_calibration
from deflect.evaluation.datasets import ADAPTERS, load_dataset, write_escalations
from deflect.evaluation.golden import GoldenCase, load_golden
from deflect.index.anchors import ChromaAnchorIndex
from deflect.index.chroma import ChromaIndex
from deflect.service import DeflectService

Progress = Callable[[int, int], None]

# A kept eval work folder (`deflect eval --work DIR`) carries from run to run only what ingest itself keeps up to date
# and checks against the KB: the Chroma index, the keyword index and the parse memo. Everything else goes before a
# run, so each run is a fresh one: the KB copy, the SQLite stores (escalations and asks of earlier runs) and the
# calibration, which is fitted again (one fitted by other code is stale whatever "materially changed" says).
WORK_STAMP = ".deflect-eval-work"
EVAL_COLLECTION = "eval"
WORK_KEPT = ("chroma", "data/keyword", "data/parse-memo.json", WORK_STAMP)


class CaseResult(BaseModel):
    """One line of results.jsonl. This format is a contract: keep it stable."""

    id: str
    decision: str
    confidence: float
    reasons: list[str]
    citations: list[str]
    retrieved: list[str]
    answer: str
    latency_ms: float
    # Added in session 5 (old readers ignore them): what an agent asking got as a draft when it was escalated.
    draft: str = ""
    draft_citations: list[str] = Field(default_factory=list)
    # Added in session 7: the pages an escalated customer was pointed at while waiting (source ids).
    suggested: list[str] = Field(default_factory=list)
    # Added in session 8: what the first suggested page quoted (it cites `suggested[0]`; empty: a pointer only).
    excerpt: str = ""


@dataclass
class EvalSetup:
    service: DeflectService
    cases: list[GoldenCase]
    label: str
    workdir: Path
    settings: Settings  # what the service runs with: the eval's own kb copy, data folder and store
    # Deletes a temporary work folder (None: a kept one). It holds the setup only weakly, so it runs when the setup
    # is collected, at exit, or on close(), whichever comes first, and once.
    cleanup: weakref.finalize | None = field(default=None, repr=False)  # type: ignore[type-arg]

    def close(self) -> None:
        """Delete the work folder now if `prepare` made it (a kept one stays); also done when the setup is collected
        or the process exits."""
        if self.cleanup is not None:
            self.cleanup()


def prepare(
    settings: Settings,
    embedder: Embedder,
    golden: Path | None = None,
    kb: Path | None = None,
    dataset: Path | None = None,
    holdout_fraction: float = 0.0,
    workdir: Path | None = None,
) -> EvalSetup:
    """A fresh index holding `kb` (or the dataset's threads) and the cases to ask, in `workdir` or in a temporary
    folder deleted with the setup (EvalSetup.close)."""
    if workdir is not None:
        return _prepare(settings, embedder, workdir, golden, kb, dataset, holdout_fraction)
    work = Path(tempfile.mkdtemp(prefix="deflect-eval-"))
    try:
        setup = _prepare(settings, embedder, work, golden, kb, dataset, holdout_fraction)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    # A temporary work folder (the index, the stores and a copy of the KB: megabytes a run) lives as long as its
    # setup: every `deflect eval` and every test that evaluated left one in /tmp (131 of them, 8.5 MB each, on the
    # team's machine). Deleted on close(), when the setup is collected, or at exit (weakref.finalize runs then too).
    setup.cleanup = weakref.finalize(setup, shutil.rmtree, work, True)
    return setup


def _prepare(
    settings: Settings,
    embedder: Embedder,
    work: Path,
    golden: Path | None,
    kb: Path | None,
    dataset: Path | None,
    holdout_fraction: float,
) -> EvalSetup:
    from deflect.wiring import assemble, build_trigger_embedder

    if dataset is not None:
        split = load_dataset(dataset, ADAPTERS["stackfaq"], holdout_fraction)
        kb = work / "kb"
        write_escalations(split.escalations, kb / "escalations" / f"{dataset.stem}.jsonl")
        cases = split.cases
        label = f"{dataset.name} (holdout {holdout_fraction:g})"
    else:
        # A copy: the knowledge loop writes resolutions into the kb, and an eval must never touch the user's.
        kb = _copy_kb(kb or settings.kb_dir, work / "kb")
        cases = []
        label = str(golden)
    if golden is not None:
        cases = load_golden(golden)
    index = ChromaIndex.embedded(work / "chroma", EVAL_COLLECTION, settings.chroma_ef_search)
    # A throwaway SQLite store beside the throwaway index: escalations of an eval never touch the user's database.
    from deflect.store.sql import SqlStore

    # The eval's own data folder: the calibration deflect fits on this KB at ingest lands there, never in the user's.
    store_url = f"sqlite:///{work / 'eval.db'}"
    eval_settings = settings.model_copy(update={"kb_dir": kb, "data_dir": work / "data", "database_url": store_url})
    anchors = (
        ChromaAnchorIndex.embedded(work / "chroma", EVAL_COLLECTION, settings.chroma_ef_search)
        if settings.anchor_weight > 0
        else None
    )
    store = SqlStore(store_url)
    # The triggers score with their own model when the eval runs another one, as the service does.
    triggers = build_trigger_embedder(settings, embedder)
    service = assemble(eval_settings, index, embedder, store=store, anchors=anchors, trigger_embedder=triggers)
    service.ingest([kb], kb)
    return EvalSetup(service, cases, label, work, eval_settings)


def ingest_signature(settings: Settings, embedder: Embedder) -> str:
    """What the ingest folds into every content hash (chunker settings and version, embedding model)."""
    from deflect.ingest.chunking import Chunker
    from deflect.ingest.pipeline import ingest_signature as signature

    chunks = Chunker.signature_of(settings.chunk_size, settings.chunk_overlap, settings.embed_page_lead)
    return signature(chunks, embedder.name)


def work_folder(work: Path | None, signature: str, prefix: str = "deflect-eval-") -> Path:
    """The eval's work folder: a new temporary one, or `work` cleared of everything but the ingest's caches.

    The stamp holds the ingest signature (`ingest_signature`). When it changed, every chunk is embedded again anyway
    (the signature is in every content hash) and another model's vectors may not even fit the kept Chroma
    collection, so the caches go too: the index is then built from empty, as a run without a kept folder builds it,
    rather than rewritten entry by entry. A non-empty folder without the stamp is refused: it is not ours to clear."""
    if work is None:
        return Path(tempfile.mkdtemp(prefix=prefix))
    stamp = work / WORK_STAMP
    if work.is_dir() and any(work.iterdir()) and not stamp.is_file():
        raise ConfigError(f"{work} is not empty and is not an eval work folder: give a new or empty folder")
    work.mkdir(parents=True, exist_ok=True)
    same = stamp.is_file() and stamp.read_text(encoding="utf-8") == signature
    _clear(work, work, WORK_KEPT if same else ("chroma", WORK_STAMP))
    if not same and (work / "chroma").is_dir():
        ChromaIndex.drop_embedded(work / "chroma", EVAL_COLLECTION)
        ChromaAnchorIndex.drop_embedded(work / "chroma", EVAL_COLLECTION)
    stamp.write_text(signature, encoding="utf-8")
    return work


def _clear(folder: Path, work: Path, keep: Sequence[str]) -> None:
    for child in folder.iterdir():
        rel = child.relative_to(work).as_posix()
        if rel in keep:
            continue
        if child.is_dir() and not child.is_symlink():
            if any(k.startswith(rel + "/") for k in keep):
                _clear(child, work, keep)
            else:
                shutil.rmtree(child)
        else:
            child.unlink()


def _copy_kb(source: Path, target: Path) -> Path:
    shutil.copytree(source, target, dirs_exist_ok=True)
    return target


def run_cases(
    service: DeflectService, cases: Sequence[GoldenCase], progress: Progress | None = None
) -> list[CaseResult]:
    """Ask every case through DeflectService.ask, exactly as the API does."""
    results = []
    for i, case in enumerate(cases, start=1):
        r = service.ask(case.question, case.audience, conversation=case.conversation)
        results.append(
            CaseResult(
                id=case.id,
                decision=r.decision.value,
                confidence=r.confidence,
                reasons=r.reasons,
                citations=[c.source_id for c in r.citations],
                retrieved=r.retrieved,
                answer=r.answer if r.decision.value == "answer" else "",
                latency_ms=r.latency_ms,
                draft=r.draft_answer or "",
                draft_citations=[c.source_id for c in r.draft_citations],
                suggested=[p.source_id for p in r.suggested],
                excerpt=r.suggested[0].excerpt if r.suggested else "",
            )
        )
        if progress:
            progress(i, len(cases))
    return results


def samples(
    service: DeflectService,
    cases: Sequence[GoldenCase],
    group: Callable[[GoldenCase], str],
    progress: Progress | None = None,
) -> list[Sample]:
    """Calibration samples: features of each case and whether answering with the top source is right."""
    out = []
    for i, case in enumerate(cases, start=1):
        if RISK_TAGS & set(case.tags):
            continue
        # Cleaned as `ask` cleans it (NFC, no invisible characters): the calibration learns the question `ask` sees.
        hits, feats = service.evidence(clean_text(case.question), case.audience)
        right = (not case.should_escalate) and bool(hits) and hits[0].source_id in set(case.expected_sources)
        out.append(Sample(group(case), feats, int(right)))
        if progress:
            progress(i, len(cases))
    return out


def group_of(case: GoldenCase) -> str:
    """The group a case stays in on one side of a split: its StackFAQ thread, else the case itself."""
    return next((t for t in case.tags if t.startswith("thread:")), case.id)


def write_results(results: Sequence[CaseResult], path: Path) -> None:
    """results.jsonl, one case per line."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r.model_dump(), ensure_ascii=False) + "\n" for r in results), encoding="utf-8")


def calibrate(
    settings: Settings,
    embedder: Embedder,
    golden: Path | None,
    dataset: Path | None,
    holdout_fraction: float,
    target_risk: float,
    progress: Progress | None = None,
) -> tuple[Calibration, dict[str, float]]:
    """Collect samples from the kb golden set and/or a dataset (each in its own throwaway index) and fit."""
    collected: list[Sample] = []
    fitted_on: list[str] = []
    if golden is not None:
        setup = prepare(settings, embedder, golden=golden, kb=settings.kb_dir)
        collected += samples(setup.service, setup.cases, lambda c: "kb:" + c.id, progress)
        fitted_on.append(f"{golden} over {settings.kb_dir}")
    if dataset is not None:
        setup = prepare(settings, embedder, dataset=dataset, holdout_fraction=holdout_fraction)
        collected += samples(setup.service, setup.cases, group_of, progress)
        fitted_on.append(setup.label)
    if not collected:
        raise ConfigError("calibration needs --golden and/or --dataset")
    return fit_calibration(collected, embedder.name, target_risk, fitted_on)
