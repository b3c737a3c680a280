"""The vocabulary of content gaps: the questions that went badly, what we know, and the report."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("datetimes must be timezone-aware")
    return value


class GapQuestion(BaseModel):
    """A question deflect did not serve well: it was escalated, or its answer was marked unhelpful."""

    model_config = ConfigDict(frozen=True)

    text: str = Field(min_length=1)
    at: datetime = Field(description="When it was escalated or the unhelpful feedback was given (timezone-aware).")
    origin: Literal["escalated", "unhelpful"]
    escalation_id: str | None = None
    answer_id: str | None = None

    _check_at = field_validator("at")(_aware)


class Resolution(BaseModel):
    """Knowledge a human produced: a resolved escalation (from the store) or an `esc:` source (from the index)."""

    model_config = ConfigDict(frozen=True)

    id: str = Field(description="The escalation id (`ESC-1083`, `esc_...`); an `esc:` source has its prefix removed.")
    question: str
    resolution: str
    resolved_at: datetime
    source_id: str | None = Field(None, description="The `esc:` source it was found as, when it came from the index.")

    _check_at = field_validator("resolved_at")(_aware)


class GapParams(BaseModel):
    """Thresholds of the gap analysis. Cosines assume unit vectors; defaults suit MiniLM (measured on the sample kb)."""

    model_config = ConfigDict(frozen=True)

    cluster_threshold: float = Field(
        0.5, ge=-1.0, le=1.0, description="Average-linkage cosine two clusters need to merge."
    )
    contradiction_threshold: float = Field(
        0.5, ge=-1.0, le=1.0, description="Cosine between a resolution and a source chunk to compare them at all."
    )
    max_overlap: float = Field(
        0.35,
        ge=0.0,
        le=1.0,
        description="At or above this share of the resolution's content words, the chunk already says it.",
    )
    sources: int = Field(3, ge=1, le=20, description="Nearest distinct KB sources shown per cluster.")
    candidates: int = Field(30, ge=1, description="Chunks fetched per cluster centroid before grouping by source.")
    examples: int = Field(5, ge=1, le=20, description="Example questions shown per cluster.")


class NearestSource(BaseModel):
    """A KB source near the cluster centroid, by its best chunk."""

    source_id: str
    title: str
    kind: str
    audience: str
    updated: str
    chunk_id: str
    score: float = Field(description="Cosine of the cluster centroid with the source's best chunk.")


class Recurrence(BaseModel):
    """Questions that kept coming after a related resolution existed."""

    resolution_id: str
    source_id: str | None
    resolved_at: datetime
    similarity: float = Field(description="How close the resolution is to the cluster (see `GapReport.method`).")
    later: int = Field(description="Cluster questions escalated or marked unhelpful after it was resolved.")
    later_escalation_ids: list[str] = Field(default_factory=list)


class Contradiction(BaseModel):
    """A nearest source older than a related resolution that is about the same thing but says something else."""

    source_id: str
    source_kind: str
    source_updated: str
    chunk_id: str
    resolution_id: str
    resolution_source_id: str | None
    resolved_at: datetime
    similarity: float = Field(description="Cosine of the resolution text with the source chunk.")
    overlap: float = Field(description="Share of the resolution's content words that appear in the chunk.")
    cues: list[str] = Field(default_factory=list, description="Replacement cues in the resolution (one at least).")


class GapCluster(BaseModel):
    """A group of similar questions that went badly, with what the KB offers near them and what looks wrong."""

    id: str
    label: str = Field(description="The question closest to the centroid.")
    size: int
    escalated: int
    unhelpful: int
    first_at: datetime
    last_at: datetime
    examples: list[str]
    escalation_ids: list[str]
    nearest_sources: list[NearestSource]
    recurring_after_resolution: bool
    recurrences: list[Recurrence] = Field(default_factory=list)
    contradicted_article: bool
    contradictions: list[Contradiction] = Field(default_factory=list)


class GapReport(BaseModel):
    """The response of `GET /v1/gaps` and `deflect gaps --json`."""

    since: datetime
    until: datetime
    min_size: int
    questions: int = Field(description="Questions in the window (escalated plus unhelpful).")
    escalated: int
    unhelpful: int
    clustered: int = Field(description="Questions in the clusters shown (clusters of at least `min_size`).")
    params: GapParams
    method: str
    clusters: list[GapCluster]
