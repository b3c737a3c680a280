"""GET /demo: the demo help page belongs to the project being served. It names the configured product and offers
public article titles of the served index as examples (never an internal one), escaped; an empty or unreadable
index still gets the page. Over the fake-backed service and the real app."""

from __future__ import annotations

from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from deflect.api import create_app
from deflect.config import Settings
from deflect.service import DeflectService
from deflect.testing import InMemoryIndex
from deflect.web.routes import HERE

# Our own words: a public article whose title holds markup and a template slot, both to be shown as text.
HOSTILE = """---
title: <img src=x onerror=alert(1)> fuel {{widget_id}} & "wicks"
audience: public
---
# Fuel and wicks

Use lamp oil only.
"""
PUBLIC_TITLES = ["Resetting your password", "Downloading invoices"]  # the tests' kb (tests/conftest.py)
INTERNAL = ["Applying account credits", "How to apply account credits in the admin tool"]  # its internal runbook


class Page(HTMLParser):
    """What a browser would make of the page: its elements, the examples listed, the widget script's attributes."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.listed: list[str] = []
        self.script: dict[str, str] = {}
        self._in_item = False
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self._in_item = tag == "li"
        if tag == "script":
            self.script = {k: v or "" for k, v in attrs}

    def handle_data(self, data: str) -> None:
        if self._in_item:
            self.listed.append(data)
            self._in_item = False


def client_for(settings: Settings, svc: DeflectService) -> TestClient:
    return TestClient(create_app(settings, svc), raise_server_exceptions=False)


def demo(settings: Settings, svc: DeflectService) -> Page:
    response = client_for(settings, svc).get("/demo")
    assert response.status_code == 200
    return Page(response.text)


def test_the_page_names_the_configured_product(settings: Settings, service: DeflectService) -> None:
    named = settings.model_copy(update={"product_name": "Lanternworks"})

    page = demo(named, service)

    assert page.script["data-title"] == "Lanternworks help"
    assert page.script["data-greeting"] == "Hi! Ask me anything about Lanternworks."
    text = client_for(named, service).get("/demo").text
    assert "<title>Lanternworks Help Center (deflect demo)</title>" in text
    assert "<h1>Lanternworks Help Center</h1>" in text
    assert "Quiverly" not in text


def test_without_a_name_the_product_is_derived_from_where_the_kb_lives(
    settings: Settings, service: DeflectService, tmp_path: Path
) -> None:
    page = demo(settings.model_copy(update={"kb_dir": tmp_path / "lanternworks" / "html"}), service)
    assert page.script["data-title"] == "lanternworks help"


def test_the_template_names_no_product() -> None:
    # The sample kb's Quiverly comes from its configuration (Makefile, Dockerfile), never from the page itself.
    assert "Quiverly" not in (HERE / "pages" / "demo.html").read_text(encoding="utf-8")


def test_public_titles_of_the_served_index_are_the_examples_never_an_internal_one(
    settings: Settings, service: DeflectService
) -> None:
    page = demo(settings, service)

    # Two public titles, so the third example is a public heading: an internal title or heading, were it seen,
    # would rank among the titles and be shown.
    assert set(PUBLIC_TITLES) <= set(page.listed) and len(page.listed) == 3
    assert page.script["data-examples"].split("|") == page.listed
    text = client_for(settings, service).get("/demo").text
    for internal in INTERNAL:
        assert internal not in text


def test_markup_in_a_title_is_shown_as_text(
    settings: Settings, kb: Path, make_service: Callable[..., DeflectService]
) -> None:
    (kb / "articles" / "fuel.md").write_text(HOSTILE, encoding="utf-8")
    title = '<img src=x onerror=alert(1)> fuel {{widget_id}} & "wicks"'

    page = demo(settings, make_service())

    assert title in page.listed  # the text a visitor reads, exactly
    assert title in page.script["data-examples"].split("|")
    assert "img" not in page.tags
    assert page.script["data-widget-id"] == "wid_dev_localhost"  # the slot inside the title filled nothing


def test_an_empty_index_still_gets_the_page(settings: Settings, make_service: Callable[..., DeflectService]) -> None:
    svc = make_service(ingest=False)

    response = client_for(settings, svc).get("/demo")

    assert response.status_code == 200
    assert "Nothing is indexed yet" in response.text
    assert Page(response.text).script["data-examples"] == ""


class Unreadable(InMemoryIndex):
    """Once broken, counts answer and the whole read fails: a server going away while the page is made."""

    broken = False

    def pages(self, size: int = 1000):  # type: ignore[no-untyped-def]
        if self.broken:
            raise RuntimeError("connection reset by peer")
        return super().pages(size)


class Gone(Unreadable):
    """Once broken, nothing answers."""

    def count(self) -> int:
        if self.broken:
            raise RuntimeError("connection refused")
        return super().count()


@pytest.mark.parametrize("index", [Unreadable, Gone])
def test_an_index_that_cannot_be_read_still_gets_the_page(
    settings: Settings, make_service: Callable[..., DeflectService], index: type[Unreadable]
) -> None:
    broken = index()
    svc = make_service(index=broken)
    broken.broken = True

    response = client_for(settings, svc).get("/demo")

    assert response.status_code == 200
    assert "cannot be read right now" in response.text
    assert Page(response.text).script["data-examples"] == ""
