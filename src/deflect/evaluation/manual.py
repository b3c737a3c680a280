"""`deflect eval --manual NAME`: a real manual from a Debian package, read where the package installs it.

The repository holds only our questions, page names and key terms (`eval/manuals/`); the manual's HTML is copied
from the installed package into the eval's throwaway folder, ingested with the normal ingest and asked through
`DeflectService.ask` like every other eval. Pages are named by their path under the manual's HTML root without
`.html`, which is exactly the source id deflect gives them (`doc:<path>`), because the copy is the KB root.

Definitions (per answerable question unless stated):
- actionable: answered, an expected page cited, and every key term (or one of its alternatives) in the answer
  text, case-insensitively.
- answered, not actionable: answered, but the citation or a key term is missing.
- out-of-scope escalated: share of out-of-scope questions (no expected page) that escalated.
- escalated, expected page suggested: share of the escalated answerable questions whose suggested pages (what an
  escalated customer is pointed at while waiting, README "Escalations") include an expected page.
- out-of-scope with suggestions: share of out-of-scope questions that got any suggested page (pointing someone at
  a page that cannot help).
- escalated, excerpt shown: share of the escalated answerable questions whose first suggested page came with an
  excerpt (Suggestion.excerpt: passages quoted from that page alone).
- escalated, excerpt actionable: share of the escalated answerable questions whose excerpt would be actionable as an
  answer: its page (the first suggested) is an expected page and it contains every key term (`actionable` above).
- out-of-scope with an excerpt: share of out-of-scope questions shown an excerpt (quoting a page that cannot help).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError

from deflect.config import Settings
from deflect.domain.models import Audience
from deflect.domain.ports import Embedder
from deflect.errors import ConfigError, SourceError
from deflect.evaluation.evaluate import describe_calibration, file_hash, git_revision, stamped_settings
from deflect.evaluation.fusion import sweep
from deflect.evaluation.golden import GoldenCase, load_labelled
from deflect.evaluation.metrics import mean, recall_at_k, visible_text
from deflect.evaluation.report import markdown, plots, to_html
from deflect.evaluation.runner import (
    CaseResult,
    EvalSetup,
    Progress,
    ingest_signature,
    prepare,
    run_cases,
    work_folder,
    write_results,
)
from deflect.evaluation.scoring import aggregate, by_tag, score_case
from deflect.service import DeflectService

MANUALS_DIR = Path("eval/manuals")


class ManualManifest(BaseModel):
    """Which Debian package holds the manual, where its HTML is installed and which files are ingested."""

    name: str
    debian_package: str
    package_version: str
    license: str
    html_root: Path
    include: list[str] = Field(default_factory=lambda: ["**/*.html"])
    exclude: list[str] = Field(default_factory=list)
    questions: str


class ManualQuestion(BaseModel):
    """One of our questions: expected pages (empty: out of scope) and the key terms an answer must contain."""

    id: str
    question: str
    expected_pages: list[str] = Field(default_factory=list)
    key_terms: list[str | list[str]] = Field(default_factory=list)
    split: Literal["tune", "report"]

    @property
    def answerable(self) -> bool:
        return bool(self.expected_pages)

    def case(self) -> GoldenCase:
        """The question as a golden case over the manual copied as the KB root."""
        return GoldenCase(
            id=self.id,
            question=self.question,
            audience=Audience.CUSTOMER,
            expected_sources=[page_source_id(p) for p in self.expected_pages],
            should_escalate=not self.answerable,
            tags=[f"split:{self.split}", "answerable" if self.answerable else "out_of_scope"],
        )


@dataclass
class Manual:
    manifest: ManualManifest
    questions: list[ManualQuestion]


def page_source_id(page: str) -> str:
    """`usage/prune` -> `doc:usage/prune` (the manual's HTML root is the eval KB's root)."""
    return "doc:" + page.strip("/").removesuffix(".html")


def load_manual(name: str, manuals_dir: Path = MANUALS_DIR) -> Manual:
    """The manifest `<name>.json` and its questions; a missing or malformed file is a clear error."""
    path = manuals_dir / f"{name}.json"
    if not path.exists():
        known = sorted(p.stem for p in manuals_dir.glob("*.json")) if manuals_dir.exists() else []
        raise ConfigError(f"no manual named {name!r} in {manuals_dir} (known: {', '.join(known) or 'none'})")
    try:
        manifest = ManualManifest.model_validate(json.loads(path.read_text(encoding="utf-8")))
    except (json.JSONDecodeError, ValidationError) as exc:
        raise SourceError(str(path), f"bad manual manifest: {exc}") from None
    questions = load_labelled(manuals_dir / manifest.questions, ManualQuestion, "manual question", "question")
    return Manual(manifest, questions)


def manual_files(manifest: ManualManifest) -> list[Path]:
    """The installed files to ingest, relative to the HTML root; an error naming the apt package when absent."""
    root = manifest.html_root
    if not root.is_dir():
        raise ConfigError(
            f"the {manifest.name} manual is not installed ({root} is missing): "
            f"apt-get install {manifest.debian_package}"
        )
    chosen = {p.relative_to(root) for pattern in manifest.include for p in root.glob(pattern) if p.is_file()}
    # fnmatch, not glob: `_static/**` must drop the files below the folder, and fnmatch's `*` crosses "/".
    files = sorted(p for p in chosen if not any(fnmatch(p.as_posix(), pattern) for pattern in manifest.exclude))
    if not files:
        raise ConfigError(f"no files of the {manifest.name} manual match {manifest.include} under {root}")
    return files


def copy_manual(manifest: ManualManifest, target: Path) -> list[Path]:
    """Copy the manual's pages into `target` (the eval's throwaway KB), keeping their relative paths."""
    files = manual_files(manifest)
    for rel in files:
        dest = target / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(manifest.html_root / rel, dest)
    return files


def has_key_terms(answer: str, key_terms: Sequence[str | list[str]]) -> bool:
    """Every key term (a string, or a list of alternatives any one of which will do) occurs in the answer as a reader
    sees it (visible_text: `Alt`+`S` reads "Alt+S")."""
    text = visible_text(answer).lower()
    for term in key_terms:
        options = [term] if isinstance(term, str) else term
        if not any(o.lower() in text for o in options):
            return False
    return True


def score_question(q: ManualQuestion, r: CaseResult) -> dict[str, Any]:
    """Per-question outcome: retrieval hits, answered, cited an expected page, key terms, actionable."""
    expected = [page_source_id(p) for p in q.expected_pages]
    answered = r.decision == "answer"
    cited = bool(set(r.citations) & set(expected))
    terms = has_key_terms(r.answer, q.key_terms) if answered else False
    suggested = bool(set(r.suggested) & set(expected))
    escalated = q.answerable and not answered
    return {
        "id": q.id,
        "split": q.split,
        "answerable": q.answerable,
        "answered": answered,
        "r@1": recall_at_k(r.retrieved, expected, 1),
        "r@5": recall_at_k(r.retrieved, expected, 5),
        "cited_expected": cited if answered and q.answerable else None,
        "key_terms": terms if answered and q.answerable else None,
        "actionable": answered and q.answerable and cited and terms,
        "suggested_expected": suggested if escalated else None,
        "suggested_any": bool(r.suggested),
        "excerpt_shown": bool(r.excerpt) if escalated else None,
        "excerpt_actionable": excerpt_actionable(q, r) if escalated else None,
        "excerpt_any": bool(r.excerpt),
    }


def excerpt_actionable(q: ManualQuestion, r: CaseResult) -> bool:
    """The first suggested page's excerpt scored as if it were the answer (it cites that page alone)."""
    if not r.excerpt:
        return False
    quoted = r.model_copy(update={"decision": "answer", "answer": r.excerpt, "citations": r.suggested[:1]})
    return bool(score_question(q, quoted)["actionable"])


def score_assist(q: ManualQuestion, r: CaseResult) -> dict[str, Any]:
    """An agent's view of the same question: the answer, or when escalated the draft the agent got instead.
    `answered` then means "answered or drafted", and `actionable` that the text the agent sees would do."""
    drafted = r.decision != "answer" and bool(r.draft)
    if not drafted:
        return score_question(q, r)
    as_answer = r.model_copy(update={"decision": "answer", "answer": r.draft, "citations": r.draft_citations})
    return score_question(q, as_answer)


def summarise(rows: Sequence[dict[str, Any]]) -> dict[str, float | int | None]:
    """R@1, R@5, actionable, answered-not-actionable (shares of answerable), out-of-scope escalated."""
    answerable = [r for r in rows if r["answerable"]]
    oos = [r for r in rows if not r["answerable"]]
    n = len(answerable)
    return {
        "questions": n,
        "out_of_scope": len(oos),
        "R@1": mean([r["r@1"] for r in answerable]),
        "R@5": mean([r["r@5"] for r in answerable]),
        "answered": sum(r["answered"] for r in answerable) / n if n else None,
        "actionable": sum(r["actionable"] for r in answerable) / n if n else None,
        "answered_not_actionable": sum(r["answered"] and not r["actionable"] for r in answerable) / n if n else None,
        "cited_expected": sum(bool(r["cited_expected"]) for r in answerable) / n if n else None,
        "oos_escalated": sum(not r["answered"] for r in oos) / len(oos) if oos else None,
        # Shares among the rows they apply to (mean skips None): escalated answerable ones, out-of-scope ones.
        "escalated_suggested_expected": mean([r["suggested_expected"] for r in answerable]),
        "oos_suggested": mean([r["suggested_any"] for r in oos]),
        "escalated_excerpt_shown": mean([r["excerpt_shown"] for r in answerable]),
        "escalated_excerpt_actionable": mean([r["excerpt_actionable"] for r in answerable]),
        "oos_excerpt": mean([r["excerpt_any"] for r in oos]),
    }


def by_split(rows: Sequence[dict[str, Any]]) -> dict[str, dict[str, float | int | None]]:
    """The summary over all questions, then the tuning half and the report half on their own."""
    out = {"all": summarise(rows)}
    for split in ("tune", "report"):
        out[split] = summarise([r for r in rows if r["split"] == split])
    return out


ANSWER_ALL = "answer-all"
# The same operating point asked by an agent: escalated questions count when the agent got the KB's draft.
AGENT_DRAFTS = "agent-answer-or-draft"
# deflect's own operating point: the calibration it fits on the manual at ingest, or an explicit calibration file.
SELF_CALIBRATED = "self-calibrated"
CALIBRATION_FILE = "calibration-file"


@dataclass
class ManualOutcome:
    points: dict[str, dict[str, dict[str, float | int | None]]]  # operating point -> split -> summary
    out_dir: Path


def evaluate_manual(
    settings: Settings,
    embedder: Embedder,
    name: str,
    out_dir: Path,
    manuals_dir: Path = MANUALS_DIR,
    progress: Progress | None = None,
    fusion_weights: tuple[float, ...] | None = None,
    keep: Path | None = None,
) -> ManualOutcome:
    """Ingest the installed manual into a throwaway index, ask every question at each operating point, report.

    Operating points: deflect's own (`self-calibrated`: the calibration deflect fits on the manual itself at
    ingest, never on these questions; `calibration-file` when settings name one) and `answer-all` (threshold and
    relevance floor off: every question the policy does not escalate for another reason is answered), so the
    answers' quality is measured even where the threshold would hide it; and `agent-answer-or-draft` (deflect's own
    point asked by an agent: an escalated question counts with the KB draft the agent got, see README
    "Triggers").

    `keep`: a work folder kept between runs (see runner.work_folder), whose index a re-run brings up to date
    incrementally; without it the work folder is temporary and deleted at the end."""
    manual = load_manual(name, manuals_dir)
    work = work_folder(keep, ingest_signature(settings, embedder), prefix="deflect-manual-")
    copy_manual(manual.manifest, work / "manual")
    setup = prepare(settings, embedder, kb=work / "manual", workdir=work)
    cases = [q.case() for q in manual.questions]
    own = SELF_CALIBRATED if settings.calibration_file is None else CALIBRATION_FILE
    out_dir.mkdir(parents=True, exist_ok=True)
    points: dict[str, dict[str, dict[str, float | int | None]]] = {}
    own_results: list[CaseResult] = []
    per_question: dict[str, Any] = {}
    agent_cases = [c.model_copy(update={"audience": Audience.AGENT}) for c in cases]
    runs = [
        (own, setup.service, cases),
        (ANSWER_ALL, _answer_all(settings, setup, embedder), cases),
        (AGENT_DRAFTS, setup.service, agent_cases),
    ]
    for point, service, asked in runs:
        results = run_cases(service, asked, progress)
        write_results(results, out_dir / f"results-{point}.jsonl")
        score = score_assist if point == AGENT_DRAFTS else score_question
        rows = [score(q, r) for q, r in zip(manual.questions, results, strict=True)]
        (out_dir / f"questions-{point}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
        points[point] = by_split(rows)
        if point == own:
            own_results = results
        elif point == ANSWER_ALL:
            # Which questions fail and how (wrong page cited vs key term missing), for whoever works on answers.
            per_question = {r["id"]: {k: v for k, v in r.items() if k not in ("id", "answerable")} for r in rows}

    texts: dict[str, list[str]] = {}
    for chunk in setup.service.index.chunks():
        texts.setdefault(chunk.source_id, []).append(chunk.text)
    golden_rows = [
        score_case(c, r, lambda sid: " ".join(texts.get(sid, []))) for c, r in zip(cases, own_results, strict=True)
    ]
    overall = aggregate(golden_rows)
    weights = fusion_weights or (0.0, settings.fusion_bm25_weight)
    tables: dict[str, dict[str, Any]] = {
        "Manual questions by operating point": {p: s["all"] for p, s in points.items()},
        "Manual questions by split": {f"{p}/{k}": v for p, s in points.items() for k, v in s.items() if k != "all"},
        "Retrieval variants (same run)": sweep(setup.service.retriever, cases, weights),
        f"Per question ({ANSWER_ALL})": per_question,
    }
    m = manual.manifest
    stamp = {
        "git": git_revision(),
        "data": f"manual {m.name}: {m.debian_package} {m.package_version} ({m.license}) from {m.html_root}",
        "dataset_sha256": file_hash(manuals_dir / f"{name}.json", manuals_dir / m.questions),
        "kb_sha256": file_hash(work / "manual"),
        "chunks": str(sum(len(ts) for ts in texts.values())),
        "embedder": embedder.name,
        "calibration": describe_calibration(setup.service.calibration, setup.service.rules.answer_threshold),
        "settings": stamped_settings(setup.settings, Path(m.html_root)),
    }
    images = plots(golden_rows, [r.retrieved for r in own_results], [c.expected_sources for c in cases], out_dir)
    md = markdown(f"deflect evaluation: manual {m.name}", stamp, overall, by_tag(golden_rows), tables, images)
    (out_dir / "report.md").write_text(md, encoding="utf-8")
    (out_dir / "report.html").write_text(to_html(md, images), encoding="utf-8")
    (out_dir / "metrics.json").write_text(
        json.dumps(
            {"stamp": stamp, "overall": overall, "manual": points, "tags": by_tag(golden_rows), "variants": tables},
            indent=2,
        )
        + "\n",
        encoding="utf-8",
    )
    if keep is None:
        shutil.rmtree(work, ignore_errors=True)
    return ManualOutcome(points, out_dir)


def _answer_all(settings: Settings, setup: EvalSetup, embedder: Embedder) -> DeflectService:
    """The same index and parts with the threshold and relevance floor off (confidence is still computed)."""
    from deflect.store.sql import SqlStore
    from deflect.wiring import assemble

    everything = setup.service.calibration.model_copy(update={"threshold": 0.0, "relevance_floor": -1.0})
    # The eval's own kb and data folder (keyword index, calibration), never the user's: a keyword index that lags
    # the vector index is backfilled from it, which must not write the manual into the user's.
    update = {"kb_dir": setup.workdir / "kb", "data_dir": setup.workdir / "data", "confidence_threshold": None}
    open_settings = settings.model_copy(update=update)
    store = SqlStore(f"sqlite:///{setup.workdir / 'eval-answer-all.db'}")
    anchors = setup.service.retriever.anchors
    return assemble(open_settings, setup.service.index, embedder, calibration=everything, store=store, anchors=anchors)
