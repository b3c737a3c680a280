"""Confidence that the top answer is right: a logistic model over retrieval features, fitted on labelled data.

A raw cosine is not a probability and shifts with the embedding model, so the mapping and the answer threshold
are fitted (`deflect calibrate`) and stored in a JSON file that names the model it was fitted for.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from pathlib import Path

import Stemmer
from pydantic import BaseModel, Field

from deflect.domain.cosine import REFERENCE_UNRELATED, CosineScale
from deflect.domain.models import SourceHit
from deflect.errors import ConfigError

# The features of the first calibrations; a calibration file names the features it was fitted on.
LEGACY_FEATURES = ("top_dense", "top_score", "margin", "overlap")
# Every signal `features` computes (candidates measured side by side in docs/confidence.md).
FEATURES = (
    *LEGACY_FEATURES,
    "margin_dense",
    "spread",
    "keyword",
    "title_overlap",
    "agree",
    "margin_distinct",
    "qlen",
    "overlap_quoted",
)
# Two sources whose best chunks share this much of their vocabulary say the same thing (an article and the
# resolved escalation that repeats it): the margin between them says nothing about certainty.
SAME_CONTENT_JACCARD = 0.3
_WORD = re.compile(r"[a-z0-9]+")
_STOP_WORDS = """
a an and are as at be by can do does for from how i if in is it me my of on or our so that the this to we what
when where which who why will with you your yours can't cannot don't not no yes please hi hello there get got
have has was were am been
"""
_STOP = frozenset(_STOP_WORDS.split())
# PyStemmer (Snowball, C) is thread-safe per call and fast; BM25 already stems with it.
_STEMMER = Stemmer.Stemmer("english")


def content_words(text: str) -> set[str]:
    """Stems of the lower-cased words of 3+ characters that are not stop words ("resetting" meets "reset")."""
    words = {w for w in _WORD.findall(text.lower()) if len(w) > 2 and w not in _STOP}
    return set(_STEMMER.stemWords(sorted(words)))


def features(question: str, hits: Sequence[SourceHit]) -> dict[str, float]:
    """The signals the confidence model reads; all 0 when nothing was retrieved."""
    if not hits:
        return dict.fromkeys(FEATURES, 0.0)
    top = hits[0]
    second = hits[1] if len(hits) > 1 else None
    words = content_words(question)
    top_words = content_words(" ".join(c.chunk.text for c in top.chunks))
    quoted = content_words(" ".join(c.chunk.quotable for c in top.chunks))
    overlap = len(words & top_words) / len(words) if words else 0.0
    best = top.chunks[0].chunk if top.chunks else None
    label_words = content_words(f"{top.title} {best.heading_path if best else ''}")
    rest = [h.dense for h in hits[1:]]
    near = [h for h in hits[1:3] if h.dense >= top.dense - 0.03]
    return {
        "top_dense": top.dense,
        "top_score": top.score,
        "margin": top.score - (second.score if second else 0.0),
        "overlap": overlap,
        "margin_dense": top.dense - (second.dense if second else 0.0),
        "spread": top.dense - (sum(rest) / len(rest) if rest else 0.0),
        "keyword": max((c.keyword for c in top.chunks), default=0.0),
        "title_overlap": len(words & label_words) / len(words) if words else 0.0,
        "agree": len(near) / 2,
        "margin_distinct": top.score - _first_distinct_score(top_words, hits[1:]),
        "qlen": min(len(words), 12) / 12,
        # Overlap with what an answer would quote (no heading, no escalation question): a question that repeats a
        # title or a ticket's wording scores no higher than one asking what the text says.
        "overlap_quoted": len(words & quoted) / len(words) if words else 0.0,
    }


def _first_distinct_score(top_words: set[str], rest: Sequence[SourceHit]) -> float:
    """Score of the best lower-ranked source that says something else (0 when every one repeats the top)."""
    for hit in rest:
        words = content_words(" ".join(c.chunk.text for c in hit.chunks))
        union = top_words | words
        if not union or len(top_words & words) / len(union) < SAME_CONTENT_JACCARD:
            return hit.score
    return 0.0


class Calibration(BaseModel):
    """A fitted logistic mapping from features to P(correct answer), plus the chosen operating point."""

    embedder: str = Field(description="Embedder name the model was fitted with.")
    features: list[str] = Field(default_factory=lambda: list(LEGACY_FEATURES), description="Features fitted on.")
    weights: dict[str, float]
    # Standardisation applied before the weights (z = (x - mean) / scale); absent in older files (identity).
    means: dict[str, float] = Field(default_factory=dict)
    scales: dict[str, float] = Field(default_factory=dict)
    bias: float
    threshold: float = Field(ge=0.0, le=1.0, description="Answer when confidence >= threshold.")
    relevance_floor: float = Field(description="Below this top cosine nothing retrieved is about the question.")
    unrelated_cosine: float = Field(
        REFERENCE_UNRELATED,
        description="The embedder's median cosine between unrelated questions, measured when self-calibrating "
        "(deflect.domain.cosine); MiniLM's in files written before it was measured.",
    )
    target_risk: float | None = None
    fitted_on: list[str] = Field(default_factory=list)
    notes: dict[str, float | int | str] = Field(default_factory=dict)
    # Self-calibration stamps: what the KB was when this was fitted (see deflect.calibrate).
    kb_hash: str = ""
    sources: dict[str, str] = Field(default_factory=dict, description="source id -> content hash at fit time.")

    @property
    def cosine_scale(self) -> CosineScale:
        """How this calibration's embedder spreads its cosines: the policy's fixed cosines are set on MiniLM's."""
        return CosineScale(self.unrelated_cosine)

    def confidence(self, feats: dict[str, float]) -> float:
        """P(the answer is right), in [0, 1]."""
        z = self.bias + sum(
            self.weights.get(f, 0.0) * (feats.get(f, 0.0) - self.means.get(f, 0.0)) / self.scales.get(f, 1.0)
            for f in self.features
        )
        # Clamped so confidence stays strictly below 1.0: a threshold of 1.0 must mean "never answer".
        return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))

    @classmethod
    def load(cls, path: Path) -> Calibration:
        """Read a calibration file, with a clear error when it is missing or malformed."""
        try:
            return cls.model_validate(json.loads(path.read_text(encoding="utf-8")))
        except FileNotFoundError:
            raise ConfigError(f"calibration file {path} not found; run `deflect calibrate`") from None
        except ValueError as exc:
            raise ConfigError(f"calibration file {path} is invalid: {exc}") from None

    def save(self, path: Path) -> None:
        """Write atomically, so a crash never leaves a half-written calibration."""
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(self.model_dump_json(indent=2) + "\n", encoding="utf-8")
        tmp.replace(path)
