"""GET /sources/{id}: deflect's own page for a source, the link of citations whose source has no url. Over the
fake-backed service and the real app: audience by key (no key = a widget visitor = public only), escaping of what
sources hold, one 404 for unknown and forbidden ids, and citation urls that open this page."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

import pytest
from bs4 import BeautifulSoup
from fastapi.testclient import TestClient
from tests.conftest import CANARY

from deflect.api import create_app
from deflect.config import DEV_ADMIN_KEY, DEV_AGENT_KEY, DEV_CUSTOMER_KEY, Settings
from deflect.domain.models import Audience, Decision
from deflect.service import DeflectService, source_view_url

KEYS = {
    "no key": {},
    "customer": {"Authorization": f"Bearer {DEV_CUSTOMER_KEY}"},
    "agent": {"Authorization": f"Bearer {DEV_AGENT_KEY}"},
    "admin": {"X-API-Key": DEV_ADMIN_KEY},
}
SEES_INTERNAL = {"no key": False, "customer": False, "agent": True, "admin": True}
PUBLIC_IDS = ["doc:articles/reset-password", "doc:articles/invoices", "esc:ESC-1", "doc:articles/markup"]
INTERNAL_IDS = ["doc:internal/credits", "esc:ESC-2"]

# Our own words: a url-less article whose title, headings and text hold markup that must show as text.
MARKUP_ARTICLE = """---
title: Bold & <i>italic</i> in templates
audience: public
---
# Bold & <i>italic</i> in templates

## Markup in <b>email</b> templates

Templates accept a few tags. Write <script>alert("x")</script> and it is removed; <img src=x onerror=alert(1)> too.
Use `<b>bold</b>` for bold text in the template editor. Read [the guide](javascript:alert(2)) first.
"""

MARKDOWN_ARTICLE = """---
title: In-memory databases
audience: public
---
# In-memory databases

## Opening a memory database

Open the special filename "**:memory:**":

> ```
> rc = sqlite3_open(":memory:", &db);
> ```

## Shared cache

Several connections can share one in-memory database when it is opened with a URI filename and a shared cache.
Each connection sees the tables the others create, for as long as one of them stays open.

1. Open the first connection with the URI filename and the shared cache mode.
2. Open the other connections with the same URI filename and the same cache mode.
3. Close them all when you are done: the database is deleted with the last one.
"""


@pytest.fixture
def service(kb: Path, make_service: Callable[..., DeflectService]) -> DeflectService:
    (kb / "articles" / "markup.md").write_text(MARKUP_ARTICLE, encoding="utf-8")
    return make_service()


@pytest.fixture
def client(settings: Settings, service: DeflectService) -> TestClient:
    return TestClient(create_app(settings, service), raise_server_exceptions=False)


def page(client: TestClient, source_id: str, caller: str) -> tuple[int, str]:
    response = client.get(source_view_url(source_id), headers=KEYS[caller])
    return response.status_code, response.text


@pytest.mark.parametrize("caller", list(KEYS))
def test_everyone_sees_public_sources_only_staff_see_internal(client: TestClient, caller: str) -> None:
    for source_id in PUBLIC_IDS:
        status, body = page(client, source_id, caller)
        assert status == 200, (source_id, body)
        assert html.escape(source_id) in body
    for source_id in INTERNAL_IDS:
        status, body = page(client, source_id, caller)
        if SEES_INTERNAL[caller]:
            assert status == 200 and CANARY in body
        else:
            assert status == 404 and CANARY not in body


def test_a_forbidden_source_is_the_same_404_as_a_missing_one(client: TestClient) -> None:
    forbidden = client.get(source_view_url("doc:internal/credits"), headers=KEYS["customer"])
    missing = client.get(source_view_url("doc:internal/nothing-here"), headers=KEYS["customer"])
    assert forbidden.status_code == missing.status_code == 404
    for response in (forbidden, missing):
        body = response.json()
        assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}
        assert body["error"]["code"] == missing.json()["error"]["code"]
    assert forbidden.json()["error"]["message"] == missing.json()["error"]["message"]


def test_an_unknown_key_is_refused_not_treated_as_a_visitor(client: TestClient) -> None:
    response = client.get(source_view_url("doc:articles/reset-password"), headers={"Authorization": "Bearer nope"})
    assert response.status_code == 401
    assert set(response.json()["error"]) == {"code", "message", "details"}


def test_the_page_shows_title_headings_and_text(client: TestClient, service: DeflectService) -> None:
    chunks = service.source("doc:articles/reset-password", Audience.CUSTOMER)
    status, body = page(client, "doc:articles/reset-password", "no key")
    assert status == 200
    assert f"<h1>{html.escape(chunks[0].title)}</h1>" in body
    text = BeautifulSoup(body, "html.parser").get_text(" ")
    for chunk in chunks:
        if chunk.heading_path:
            assert f"<h2>{html.escape(chunk.heading_path)}</h2>" in body
        assert all(word in text for word in re.findall(r"[^\W\d]\w*", chunk.quotable))  # list numbers aside
    assert 'href="https://help.example/accounts/reset-password"' in body  # the source's own url, linked


def test_the_page_renders_its_markdown_each_section_once_under_an_id(
    kb: Path, make_service: Callable[..., DeflectService], settings: Settings
) -> None:
    # SQLite's docs quote their code: "> ```" is a code block inside a quote, not text on one line.
    (kb / "articles" / "memory.md").write_text(MARKDOWN_ARTICLE, encoding="utf-8")
    settings.chunk_size, settings.chunk_overlap = 50, 0  # small chunks, so a section spans several
    service = make_service()
    chunks = service.source("doc:articles/memory", Audience.CUSTOMER)
    shared = [c for c in chunks if c.heading_path == "Shared cache"]
    assert len(shared) > 1, "the fixture must split a section over chunks, each opening with its heading"
    client = TestClient(create_app(settings, service))

    soup = BeautifulSoup(client.get(source_view_url("doc:articles/memory")).text, "html.parser")

    headings = [h.get_text() for h in soup.find_all("h2")]
    assert headings == ["Opening a memory database", "Shared cache"]
    assert "Shared cache" not in [p.get_text() for p in soup.find_all("p")]  # the title, not a paragraph too
    sections = {s["id"]: s for s in soup.find_all("section")}
    assert {"opening-a-memory-database", "shared-cache"} <= set(sections)
    code = sections["opening-a-memory-database"].select("blockquote > pre > code")
    assert [c.get_text() for c in code] == ['rc = sqlite3_open(":memory:", &db);\n']
    assert [s.get_text() for s in soup.find_all("strong")] == [":memory:"]
    assert len(sections["shared-cache"].select("ol > li")) == 3 and "```" not in soup.get_text()


def test_an_escalation_page_shows_question_and_resolution_once(client: TestClient) -> None:
    soup = BeautifulSoup(client.get(source_view_url("esc:ESC-1")).text, "html.parser")
    text = soup.get_text()
    assert [h.get_text() for h in soup.find_all("h2")] == ["Problem", "Resolution"]
    assert text.count("Our webhook signature check fails") == 1
    assert text.count("Compute the HMAC over the raw request body") == 1


def test_markup_in_a_source_is_shown_as_text_never_as_markup(client: TestClient, service: DeflectService) -> None:
    chunks = service.source("doc:articles/markup", Audience.CUSTOMER)
    held = [c.title for c in chunks] + [c.heading_path for c in chunks] + [c.text for c in chunks]
    assert any("<" in value for value in held), "the fixture must reach the index with markup in it"
    response = client.get(source_view_url("doc:articles/markup"))
    body = response.text
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    for tag in ("<script", "<img", "<i>", "<b>"):
        assert tag not in body.lower()
    assert 'href="javascript' not in body and "[the guide](javascript:alert(2))" in body  # a script link is text
    assert "&lt;script&gt;" in body and "&lt;b&gt;bold&lt;/b&gt;" in body  # shown as the characters they are
    assert html.escape(chunks[0].title) in body
    csp = response.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src" not in csp


def test_citations_without_a_url_link_to_the_source_view(client: TestClient, service: DeflectService) -> None:
    result = service.ask("Our webhook signature check fails on every delivery.", Audience.CUSTOMER)
    assert result.decision is Decision.ANSWER, result.reasons
    urlless = [c for c in result.citations if c.source_id.startswith("esc:")]
    assert urlless, "the resolved escalation (no url of its own) is cited"
    for citation in urlless:
        assert citation.url == "/sources/" + quote(citation.source_id, safe=":/")
        opened = client.get(citation.url)
        assert opened.status_code == 200 and html.escape(citation.title) in opened.text


def test_citations_with_a_url_keep_it(service: DeflectService) -> None:
    result = service.ask("How do I reset my password?", Audience.CUSTOMER)
    assert result.decision is Decision.ANSWER
    assert [c.url for c in result.citations if c.source_id == "doc:articles/reset-password"] == [
        "https://help.example/accounts/reset-password"
    ]


# Not a `%` in an id: Starlette's TestClient decodes the path twice (httpx's decoded path, unquoted again), which a
# real server does not; the quoting itself is the same for it.
@pytest.mark.parametrize("source_id", ["doc:articles/a b#c?d", "doc:articles/café/menü"])
def test_ids_with_url_characters_are_quoted_and_round_trip(client: TestClient, source_id: str) -> None:
    """A fragment or query mark in an id would cut the link; quoted, the id reaches the route intact."""
    url = source_view_url(source_id)
    assert "#" not in url and "?" not in url and " " not in url
    response = client.get(url)
    assert response.status_code == 404
    assert response.json()["error"]["details"] == [{"source_id": source_id}]
