"""Golden-set cases (JSONL, documented in eval/README.md)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, Field, ValidationError

from deflect.domain.models import Audience
from deflect.errors import SourceError

M = TypeVar("M", bound=BaseModel)


class GoldenCase(BaseModel):
    id: str
    question: str
    # The asker's earlier messages, oldest first, as `/v1/ask` takes them (a follow-up names its topic only there).
    conversation: list[str] = Field(default_factory=list)
    audience: Audience = Audience.CUSTOMER
    expected_sources: list[str] = Field(default_factory=list)
    should_escalate: bool = False
    reference_answer: str | None = None
    must_include: list[str] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)


def load_labelled(path: Path, model: type[M], what: str, noun: str = "case") -> list[M]:
    """Read a labelled JSONL set (golden cases, trigger cases, PII snippets); a malformed line or a repeated id is
    an error naming the file and line."""
    items: list[M] = []
    seen: set[str] = set()
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            item = model.model_validate(json.loads(line))
        except (json.JSONDecodeError, ValidationError) as exc:
            raise SourceError(str(path), f"bad {what}: {exc}", lineno) from None
        ident = str(getattr(item, "id", lineno))
        if ident in seen:
            raise SourceError(str(path), f"duplicate {noun} id {ident!r}", lineno)
        seen.add(ident)
        items.append(item)
    return items


def load_golden(path: Path) -> list[GoldenCase]:
    """Read a golden set; a malformed line or a repeated id is an error naming the file and line."""
    return load_labelled(path, GoldenCase, "golden case")
