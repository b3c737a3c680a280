"""Pure domain: pydantic models and Protocols. Imports no framework."""

from deflect.domain.models import (
    Answer,
    AskResult,
    Audience,
    Chunk,
    Citation,
    Decision,
    IngestReport,
    ScoredChunk,
    SourceDoc,
    SourceHit,
)
from deflect.domain.ports import Embedder, Generator, Index

__all__ = [
    "Answer",
    "AskResult",
    "Audience",
    "Chunk",
    "Citation",
    "Decision",
    "Embedder",
    "Generator",
    "Index",
    "IngestReport",
    "ScoredChunk",
    "SourceDoc",
    "SourceHit",
]
