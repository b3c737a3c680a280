"""Shared inputs for the escalation tests: the repo's config, fixed times, retrieved hits and packets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from deflect.domain.escalation import Escalation
from deflect.domain.models import Audience, SourceHit
from deflect.escalations import build_escalation, load_escalation_config
from deflect.escalations.config import EscalationConfig

CONFIG_PATH = Path(__file__).resolve().parents[2] / "config" / "escalation.yaml"
CONFIG = load_escalation_config(CONFIG_PATH)
T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def at(hours: int = 0, minutes: int = 0, seconds: int = 0, start: datetime = T0) -> datetime:
    """`start` plus the given offset."""
    return start + timedelta(hours=hours, minutes=minutes, seconds=seconds)


def raw_config() -> dict[str, Any]:
    """The repo config as a plain dict, to edit in a test."""
    data = yaml.safe_load(CONFIG_PATH.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def config_with(**sections: Any) -> EscalationConfig:
    """The repo config with whole top-level sections replaced."""
    return EscalationConfig.model_validate({**raw_config(), **sections})


def hit(source_id: str, score: float, title: str | None = None) -> SourceHit:
    """A retrieved source without chunks (the packet reads only id, title, url and score)."""
    return SourceHit(
        source_id=source_id,
        title=title or f"Title of {source_id}",
        url=f"https://help.example/{source_id}",
        kind="article",
        score=score,
        dense=score,
        chunks=[],
    )


def escalation(
    question: str = "How do I export my reports to CSV?",
    reasons: tuple[str, ...] = ("low_confidence",),
    now: datetime = T0,
    config: EscalationConfig = CONFIG,
    **kwargs: Any,
) -> Escalation:
    """A fresh packet (state escalated) built through the real build_escalation."""
    return build_escalation(
        answer_id="ans_test",
        question=question,
        audience=kwargs.pop("audience", Audience.CUSTOMER),
        reasons=list(reasons),
        hits=kwargs.pop("hits", []),
        policy_version="policy-v1",
        config=config,
        now=now,
        **kwargs,
    )
