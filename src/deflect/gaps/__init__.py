"""Content gaps: clusters of escalated and unhelpful questions, the KB sources near them, and what looks broken."""

from deflect.gaps.cluster import cluster
from deflect.gaps.find import find_gaps
from deflect.gaps.models import (
    Contradiction,
    GapCluster,
    GapParams,
    GapQuestion,
    GapReport,
    NearestSource,
    Recurrence,
    Resolution,
)
from deflect.gaps.store import FeedbackSource, GapFinder, escalated_questions, resolutions

__all__ = [
    "Contradiction",
    "FeedbackSource",
    "GapCluster",
    "GapFinder",
    "GapParams",
    "GapQuestion",
    "GapReport",
    "NearestSource",
    "Recurrence",
    "Resolution",
    "cluster",
    "escalated_questions",
    "find_gaps",
    "resolutions",
]
