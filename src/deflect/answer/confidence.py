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

from pydantic import BaseModel, Field

from deflect.domain.models import SourceHit
from deflect.errors import ConfigError

FEATURES = ("top_dense", "top_score", "margin", "overlap")
_WORD = re.compile(r"[a-z0-9]+")
_STOP_WORDS = """
a an and are as at be by can do does for from how i if in is it me my of on or our so that the this to we what
when where which who why will with you your yours can't cannot don't not no yes please hi hello there get got
have has was were am been
"""
_STOP = frozenset(_STOP_WORDS.split())


def content_words(text: str) -> set[str]:
    """Lower-cased words of 3+ characters that are not stop words."""
    return {w for w in _WORD.findall(text.lower()) if len(w) > 2 and w not in _STOP}


def features(question: str, hits: Sequence[SourceHit]) -> dict[str, float]:
    """The signals the confidence model reads; all 0 when nothing was retrieved."""
    if not hits:
        return dict.fromkeys(FEATURES, 0.0)
    top = hits[0]
    second = hits[1].score if len(hits) > 1 else 0.0
    words = content_words(question)
    text_words = content_words(" ".join(c.chunk.text for c in top.chunks))
    overlap = len(words & text_words) / len(words) if words else 0.0
    return {"top_dense": top.dense, "top_score": top.score, "margin": top.score - second, "overlap": overlap}


class Calibration(BaseModel):
    """A fitted logistic mapping from features to P(correct answer), plus the chosen operating point."""

    embedder: str = Field(description="Embedder name the model was fitted with.")
    weights: dict[str, float]
    bias: float
    threshold: float = Field(ge=0.0, le=1.0, description="Answer when confidence >= threshold.")
    relevance_floor: float = Field(description="Below this top cosine nothing retrieved is about the question.")
    target_risk: float | None = None
    fitted_on: list[str] = Field(default_factory=list)
    notes: dict[str, float | int | str] = Field(default_factory=dict)

    def confidence(self, feats: dict[str, float]) -> float:
        """P(the answer is right), in [0, 1]."""
        z = self.bias + sum(self.weights.get(name, 0.0) * value for name, value in feats.items())
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
