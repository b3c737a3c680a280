"""Anchor text through the service: ingest stores link sentences, asks reorder pages by them, an internal page's
links never reorder a customer's results, and weight 0 stores and searches nothing. A made-up `frob` manual of HTML
pages; the hash embedder's cosines decide, so the scene is checked to need the anchor before it is used."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import FAKE_CALIBRATION, ROOT
from deflect.config import Settings
from deflect.domain.models import Audience
from deflect.service import DeflectService
from deflect.testing import HashEmbedder, InMemoryIndex, InMemoryStore
from deflect.testing.anchors import InMemoryAnchorIndex
from deflect.wiring import assemble

QUESTION = "how long does frob wait when the database is busy"


def page(title: str, body: str, audience: str = "public") -> str:
    return (
        f"<html><head><title>{title}</title><meta name='audience' content='{audience}'></head>"
        f"<body><main><h1>{title}</h1>{body}</main></body></html>"
    )


PAGES = {
    "overview": page("Overview", "<p>frob overview: the database file, when frob is busy it will wait.</p>"),
    "timeouts": page("Timeouts", "<p>Set the timeout in milliseconds with frob_set_timeout.</p>"),
    "runbook": page(
        "Runbook",
        "<p>Customers ask how long frob will wait when the database is busy: see "
        "<a href='timeouts.html'>timeouts</a>.</p><p>Escalate lock storms to the storage team.</p>",
        "internal",
    ),
}


@pytest.fixture
def kb(tmp_path: Path) -> Path:
    root = tmp_path / "kb"
    root.mkdir()
    for name, html in PAGES.items():
        (root / f"{name}.html").write_text(html, encoding="utf-8")
    return root


def service(tmp_path: Path, kb: Path, weight: float, anchors: InMemoryAnchorIndex | None) -> DeflectService:
    settings = Settings(  # type: ignore[call-arg]
        kb_dir=kb,
        data_dir=tmp_path / f"data-{weight}-{anchors is not None}",
        fusion_bm25_weight=0.0,
        anchor_weight=weight,
        anchor_floor=0.0,
        database_url="sqlite://",
        policy_file=ROOT / "config" / "policy.yaml",
        escalation_file=ROOT / "config" / "escalation.yaml",
        _env_file=None,
    )
    svc = assemble(
        settings, InMemoryIndex(), HashEmbedder(), calibration=FAKE_CALIBRATION, store=InMemoryStore(), anchors=anchors
    )
    svc.ingest([kb], kb)
    return svc


def order(svc: DeflectService, audience: Audience) -> list[str]:
    ids = svc.ask(QUESTION, audience, record=False).retrieved
    return [i for i in ids if i in {"doc:overview", "doc:timeouts"}]


def test_an_internal_pages_link_reorders_an_agents_pages_never_a_customers(tmp_path: Path, kb: Path) -> None:
    plain = service(tmp_path, kb, 1.0, None)
    assert order(plain, Audience.CUSTOMER) == order(plain, Audience.AGENT) == ["doc:overview", "doc:timeouts"]
    anchors = InMemoryAnchorIndex()
    linked = service(tmp_path, kb, 1.0, anchors)
    assert set(anchors.manifest()) == {"doc:runbook"}
    assert order(linked, Audience.AGENT) == ["doc:timeouts", "doc:overview"]
    customer = linked.ask(QUESTION, Audience.CUSTOMER, record=False)
    before = plain.ask(QUESTION, Audience.CUSTOMER, record=False)
    assert customer.retrieved == before.retrieved
    assert customer.confidence == before.confidence


def test_weight_zero_stores_and_searches_no_anchor(tmp_path: Path, kb: Path) -> None:
    anchors = InMemoryAnchorIndex()
    off = service(tmp_path, kb, 0.0, anchors)
    assert anchors.count() == 0
    plain = service(tmp_path, kb, 0.0, None)
    for audience in Audience:
        a, b = off.ask(QUESTION, audience, record=False), plain.ask(QUESTION, audience, record=False)
        assert (a.retrieved, a.confidence, a.answer, a.decision) == (b.retrieved, b.confidence, b.answer, b.decision)


def test_a_page_the_anchors_move_up_is_judged_with_the_confidence_it_has_without_them(tmp_path: Path, kb: Path) -> None:
    # The agent's anchors put the timeouts page above the overview, which scores higher. Confidence is computed on the
    # sources in score order, as the self-calibration's probes were: moving a page changes which page the answer
    # quotes, never how sure deflect is (a negative margin to the overview would have escalated it, however right).
    plain, linked = service(tmp_path, kb, 1.0, None), service(tmp_path, kb, 1.0, InMemoryAnchorIndex())
    assert order(plain, Audience.AGENT) == ["doc:overview", "doc:timeouts"]
    assert order(linked, Audience.AGENT) == ["doc:timeouts", "doc:overview"]
    moved, before = (svc.ask(QUESTION, Audience.AGENT, record=False) for svc in (linked, plain))
    assert moved.confidence == before.confidence
