"""Value objects that travel between ingestion, retrieval, answering and the entry points."""

from __future__ import annotations

import hashlib
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class Audience(StrEnum):
    """Who is asking. Customers see public content only; agents also see internal content."""

    CUSTOMER = "customer"
    AGENT = "agent"

    def visible(self) -> frozenset[str]:
        """Content audiences this caller may receive."""
        return frozenset({"public"}) if self is Audience.CUSTOMER else frozenset({"public", "internal"})


class Decision(StrEnum):
    ANSWER = "answer"
    ESCALATE = "escalate"


class Link(BaseModel):
    """A link in an article to another page of the KB, read at parse time (deflect.ingest.links): what the linking
    page says about the page it links to, which retrieval uses as that page's anchor text."""

    model_config = ConfigDict(frozen=True)

    # The linked page's source id (`doc:c3ref/busy_timeout`), or its url when linked by url (a Markdown KB whose
    # articles state their `url:`): chunks are matched on either.
    target: str
    fragment: str = ""
    text: str
    # The sentence of the paragraph, list item, cell or term that holds the link text.
    sentence: str


class SourceDoc(BaseModel):
    """One knowledge source (an article or a resolved escalation) before chunking."""

    model_config = ConfigDict(frozen=True)

    source_id: str
    kind: Literal["article", "escalation"]
    title: str
    url: str = ""
    audience: Literal["public", "internal"]
    product: str = ""
    tags: tuple[str, ...] = ()
    updated: str = ""
    # For articles: Markdown. For escalations: the customer's question.
    body: str
    # Escalations only: the resolution an engineer found (what an answer may quote).
    resolution: str = ""
    # The file it came from, relative to the ingest root: scopes pruning and protects sources of broken files.
    origin: str
    # The folder `origin` is named from when the file sat outside the kb (`deflect ingest /srv/manual`: "/srv"),
    # "" under the kb: an ingest of the kb prunes only what came from under it.
    origin_root: str = ""
    content_hash: str
    # Fields the file did not state and ingestion filled in, with how: ("title: first heading", ...).
    inferred: tuple[str, ...] = ()
    # Articles: links to other pages of the KB (navigation left out), and each HTML id of the page with the id of
    # the heading whose section holds it ("" for the page's opening), so a link's fragment finds its section.
    links: tuple[Link, ...] = ()
    fragments: tuple[tuple[str, str], ...] = ()


def chunk_id(source_id: str, n: int) -> str:
    """The id of a source's n-th chunk (`doc:guides/billing#3`): ingest names chunks so, and readers rely on it."""
    return f"{source_id}#{n}"


def chunk_number(chunk_id: str) -> int:
    """A chunk's position in its source, read from its id; -1 for an id not of the `<source id>#<n>` form."""
    n = chunk_id.rpartition("#")[2]
    return int(n) if n.isdigit() else -1


class Chunk(BaseModel):
    """A retrievable piece of a source. `text` is stored and quoted; `embed_text` is what gets embedded."""

    model_config = ConfigDict(frozen=True)

    chunk_id: str
    source_id: str
    kind: Literal["article", "escalation"]
    title: str
    heading_path: str = ""
    url: str = ""
    audience: Literal["public", "internal"]
    product: str = ""
    tags: tuple[str, ...] = ()
    updated: str = ""
    text: str
    embed_text: str = ""
    # Offset in `text` from which an answer may quote: an escalation's customer question is context, not answer.
    quote_from: int = 0
    origin: str
    origin_root: str = ""  # as SourceDoc.origin_root
    source_hash: str
    # How many chunks the source has; lets ingestion detect a source half-written by a crash.
    source_chunks: int
    # The link fragments that land on this chunk's section: its heading's id, the other ids inside the section, and
    # "" on the page's first section (where a link without a fragment lands). Matched against anchors at question
    # time (deflect.retrieval.anchors).
    fragments: tuple[str, ...] = ()

    @property
    def quotable(self) -> str:
        """The part of the text an answer may quote."""
        return self.text[self.quote_from :]


class Anchor(BaseModel):
    """One link sentence of a page about another page, stored with its vector (AnchorIndex) and keyed by the
    linking page: replaced when that page is ingested again, deleted with it."""

    model_config = ConfigDict(frozen=True)

    source_id: str  # the linking page
    source_hash: str  # its content hash when the anchor was written
    audience: Literal["public", "internal"]  # the linking page's: who may have this anchor reorder their results
    target: str
    fragment: str = ""
    text: str
    sentence: str

    @property
    def landing(self) -> Landing:
        """Where it lands: (target, fragment)."""
        return (self.target, self.fragment)

    @property
    def anchor_id(self) -> str:
        """Stable id, one per (linking source, target, fragment, sentence). It starts with where the anchor lands
        (ANCHOR_ID_SEPARATOR between the parts), so the id alone says where it lands (landing_of)."""
        digest = hashlib.sha256(self.sentence.encode("utf-8")).hexdigest()[:20]
        return ANCHOR_ID_SEPARATOR.join((self.target, self.fragment, self.source_id, digest))


# Separates an anchor id's parts: a control character no url, source id or HTML id holds.
ANCHOR_ID_SEPARATOR = "\x1f"


# Where an anchor lands: (target, fragment), the section of the target that the link's fragment names ("" for a
# link without one: the target's first section).
Landing = tuple[str, str]


def landing_of(anchor_id: str) -> tuple[Landing, str]:
    """Where a stored anchor lands and its linking source, read off its id (Anchor.anchor_id)."""
    target, fragment, source_id, _ = anchor_id.split(ANCHOR_ID_SEPARATOR, 3)
    return (target, fragment), source_id


class ScoredChunk(BaseModel):
    """A chunk with the scores retrieval gave it."""

    chunk: Chunk
    dense: float = 0.0  # cosine similarity, 0 when the dense retriever did not return it
    keyword: float = 0.0  # BM25 normalised to [0, 1] within the query
    score: float = 0.0  # fused score used for ranking


class SourceHit(BaseModel):
    """A source ranked for a question, with its best chunks."""

    source_id: str
    title: str
    url: str
    kind: str
    score: float
    dense: float
    chunks: list[ScoredChunk]
    # The page's opening (its text before the first heading) when retrieval did not return it: given to answers
    # only, never scored (a manual's chapter says there how to start the tool its later sections describe).
    opening: Chunk | None = None
    # Chunks next to retrieved ones, read when a retrieved chunk opens mid-sentence or ends on an intro whose content
    # the next chunk holds (deflect.answer.passages.neighbours_wanted): given to answers only, never scored, and
    # quoted only as part of a passage a retrieved chunk cut.
    context: list[Chunk] = Field(default_factory=list)
    # The chunks after a retrieved chunk within its section, read for a how-to question: where a section's prose
    # is retrieved, its example (the code a customer types) often sits a chunk or two on. Given to answers only, never
    # scored, and quoted only as an example when the answer would show no code (deflect.answer.extractive).
    following: list[Chunk] = Field(default_factory=list)
    # The chunks right before and after the first source's retrieved ones, read for every question: on a page of short
    # sections the one that answers often sits beside those retrieval ranked first. Given to answers only, never scored
    # by retrieval; the answer quotes those of other sections than the retrieved ones', scored a little below them
    # (deflect.answer.extractive).
    nearby: list[Chunk] = Field(default_factory=list)


def by_score(hit: SourceHit) -> tuple[float, str]:
    """Sort key of sources by score, best first, ties by id: one order for ranking, feedback and confidence, so
    the three never drift apart (anchor text alone may put a page above a higher-scoring one)."""
    return (-hit.score, hit.source_id)


class Citation(BaseModel):
    n: int
    source_id: str
    title: str
    url: str
    snippet: str


class Answer(BaseModel):
    """What a generator produced: text with [n] markers and the citations those markers point to."""

    text: str
    citations: list[Citation]
    sentences: list[str] = Field(
        default_factory=list, description="The quoted passages (or sentences), each verbatim text of a cited source."
    )


class Suggestion(BaseModel):
    """A page offered to an escalated asker while they wait: a pointer, and on the first page at most an excerpt
    quoted from that page alone (deflect.escalations.suggest.page_excerpt), never an answer deflect vouches for."""

    source_id: str
    title: str
    url: str
    heading: str = Field("", description="The heading of the source's best-matching section (empty: its opening).")
    excerpt: str = Field(
        "",
        description="First page only: Markdown passages quoted verbatim from this page alone, under their heading, "
        "the way an extractive answer quotes them (`[1]` marks this page). Empty: a pointer only (not the first "
        "page, the setting is off, the generator is a model, or the page had no passage to quote).",
    )


class AskResult(BaseModel):
    """The response contract of `/v1/ask` and `deflect ask --json`."""

    id: str
    question: str
    audience: Audience
    decision: Decision
    answer: str
    citations: list[Citation]
    confidence: float
    reasons: list[str]
    latency_ms: float
    retrieved: list[str] = Field(default_factory=list, description="Ranked source ids that were searched.")
    conversation_id: str | None = None
    escalation_id: str | None = Field(None, description="Set when the question was escalated.")
    priority: str | None = Field(None, description="Escalation priority (critical, high, medium, low).")
    draft_answer: str | None = Field(
        None,
        description="Agents only: what the KB says, offered as a draft when the question was escalated: by a risk "
        "trigger over a confident answer, or for low confidence (then `draft_below_threshold` is true).",
    )
    draft_below_threshold: bool = Field(
        False, description="The draft's confidence is under the answer threshold: check it before using it."
    )
    draft_citations: list[Citation] = Field(
        default_factory=list, description="The sources the draft's [n] markers point to (agents only)."
    )
    suggested: list[Suggestion] = Field(
        default_factory=list,
        description="Customers only, when low confidence was the only reason to escalate: up to 3 pages that may "
        "help while they wait (public, each about the question by the relevance floor). Not an answer: at most the "
        "first page carries an `excerpt` quoted from it alone, while the escalation stands.",
    )
    dry_run: bool = Field(
        False,
        description="True for `deflect ask --dry-run`: nothing was recorded; `priority` is what an escalation "
        "would have had. Never true over HTTP.",
    )


class FileReport(BaseModel):
    """What ingestion did with one file: every file found gets one."""

    path: str
    status: Literal["ingested", "unchanged", "skipped", "failed"]
    reason: str = ""
    sources: list[str] = Field(default_factory=list)
    inferred: list[str] = Field(default_factory=list)


class IngestReport(BaseModel):
    added: int = 0
    updated: int = 0
    deleted: int = 0
    unchanged: int = 0
    deleted_sources: list[str] = Field(default_factory=list, description="The ids of the sources pruned.")
    chunks: int = 0
    errors: list[str] = Field(default_factory=list)
    files: list[FileReport] = Field(default_factory=list)
    calibration: str = Field("", description="Whether the KB's calibration was kept or refitted, and why.")
