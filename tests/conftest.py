"""Shared fixtures: a tiny knowledge base on disk, the deterministic fakes, and a service assembled from them."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from deflect.answer.confidence import Calibration
from deflect.config import Settings
from deflect.service import DeflectService
from deflect.testing import HashEmbedder, InMemoryIndex
from deflect.testing.store import InMemoryStore
from deflect.wiring import assemble

# Appears only in internal content: must never reach a customer answer or citation.
CANARY = "ZEBRA-CANARY-7731"

ARTICLE_PASSWORD = """---
title: Resetting your password
url: https://help.example/accounts/reset-password
audience: public
product: accounts
tags: [login, password]
updated: 2026-01-10
---
# Resetting your password

Forgot your password? You can reset it yourself.

## How to reset your password

1. Open the sign-in page and click Forgot password.
2. Enter your work email address.
3. Open the reset link we email you; the reset link is valid for 60 minutes.

## Account lockout after failed logins

Five failed logins lock the account for 15 minutes. Wait 15 minutes, then reset your password.
"""

ARTICLE_INVOICES_HTML = """<!doctype html><html><head><title>Downloading invoices</title>
<meta name="url" content="https://help.example/billing/invoices">
<meta name="audience" content="public"><meta name="product" content="billing">
<meta name="tags" content="invoices,pdf"><meta name="updated" content="2026-02-01"></head>
<body><nav>Home &gt; Billing</nav><h1>Downloading invoices</h1>
<h2>Where invoices live</h2><p>Every invoice is listed under <b>Settings &gt; Billing &gt; Invoices</b>.</p>
<h2>Download an invoice as PDF</h2><ol><li>Open Settings &gt; Billing &gt; Invoices.</li><li>Click Download PDF next to the invoice.</li></ol>
<footer>Was this article helpful?</footer></body></html>
"""

RUNBOOK_CREDITS = f"""---
title: Applying account credits
url: https://support.internal.example/runbooks/credits
audience: internal
product: billing
tags: [credits, internal]
updated: 2026-03-01
---
# Applying account credits

## How to apply account credits in the admin tool

Tier 2 agents can apply account credits up to 500 dollars in the admin tool. Ping {CANARY} for approval above that.
"""

ESCALATIONS = [
    {
        "id": "ESC-1",
        "subject": "Webhook signature fails",
        "question": "Our webhook signature check fails on every delivery.",
        "resolution": "They computed the HMAC over re-serialised JSON. Compute the HMAC over the raw request body instead.",
        "tags": ["webhooks"],
        "product": "api",
        "resolved_at": "2026-04-01T10:00:00Z",
        "audience": "public",
    },
    {
        "id": "ESC-2",
        "subject": "Refund approval chain",
        "question": "Who approves a refund above the limit?",
        "resolution": f"Refunds above the limit go to the billing lead; the code word is {CANARY}.",
        "tags": ["billing"],
        "product": "billing",
        "resolved_at": "2026-05-01T10:00:00Z",
    },
]


def write_kb(root: Path) -> Path:
    """Write the tiny knowledge base under `root` and return it."""
    (root / "articles").mkdir(parents=True)
    (root / "internal").mkdir()
    (root / "escalations").mkdir()
    (root / "articles" / "reset-password.md").write_text(ARTICLE_PASSWORD, encoding="utf-8")
    (root / "articles" / "invoices.html").write_text(ARTICLE_INVOICES_HTML, encoding="utf-8")
    (root / "internal" / "credits.md").write_text(RUNBOOK_CREDITS, encoding="utf-8")
    (root / "escalations" / "2026.jsonl").write_text(
        "".join(json.dumps(e) + "\n" for e in ESCALATIONS), encoding="utf-8"
    )
    return root


# Fitted by hand for the hash embedder, not on data: tests exercise mechanics, not calibration quality.
FAKE_CALIBRATION = Calibration(
    embedder="hash-256",
    weights={"top_dense": 8.0, "top_score": 0.0, "margin": 4.0, "overlap": 4.0},
    bias=-5.0,
    threshold=0.5,
    relevance_floor=0.15,
)


@pytest.fixture
def kb(tmp_path: Path) -> Path:
    return write_kb(tmp_path / "kb")


ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def settings(tmp_path: Path, kb: Path) -> Settings:
    return Settings(  # type: ignore[call-arg]
        kb_dir=kb,
        data_dir=tmp_path / "data",
        fusion_bm25_weight=0.1,
        database_url=f"sqlite:///{tmp_path / 'deflect.db'}",
        policy_file=ROOT / "config" / "policy.yaml",
        escalation_file=ROOT / "config" / "escalation.yaml",
        _env_file=None,
    )


@pytest.fixture
def make_service(settings: Settings) -> Callable[..., DeflectService]:
    def build(index: InMemoryIndex | None = None, ingest: bool = True, **kwargs: object) -> DeflectService:
        kwargs.setdefault("store", InMemoryStore())
        svc = assemble(settings, index or InMemoryIndex(), HashEmbedder(), calibration=FAKE_CALIBRATION, **kwargs)  # type: ignore[arg-type]
        if ingest:
            svc.ingest([settings.kb_dir], settings.kb_dir)
        return svc

    return build


@pytest.fixture
def service(make_service: Callable[..., DeflectService]) -> DeflectService:
    return make_service()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A PostgreSQL database for integration tests: DEFLECT_TEST_POSTGRES_URL if set, else a throwaway cluster of
    Debian's PostgreSQL started for this session (tests/pgcluster.py)."""
    url = os.environ.get("DEFLECT_TEST_POSTGRES_URL")
    if url:
        yield url
        return
    from pgcluster import cluster

    with cluster() as started:
        yield started
