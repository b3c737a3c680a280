"""Golden-set cases (JSONL, documented in eval/README.md)."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel, Field, ValidationError

from deflect.domain.models import Audience
from deflect.errors import SourceError


class GoldenCase(BaseModel):
    id: str
    question: str
    audience: Audience = Audience.CUSTOMER
    expected_sources: list[str] = Field(default_factory=list)
    should_escalate: bool = False
    reference_answer: str | None = None
    must_include: list[str] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)


def load_golden(path: Path) -> list[GoldenCase]:
    """Read a golden set; a malformed line is an error naming the file and line."""
    cases = []
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            cases.append(GoldenCase.model_validate(json.loads(line)))
        except (json.JSONDecodeError, ValidationError) as exc:
            raise SourceError(str(path), f"bad golden case: {exc}", lineno) from None
    return cases
