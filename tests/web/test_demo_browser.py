"""/demo in Chromium for a team serving its own manual: a tool's HTML docs, not the sample's Quiverly. The page and
its widget name the product the settings derive from where the docs live (ropewalk/html is ropewalk's), offer
public titles of the served index as examples, and clicking one asks it through the widget.

The server is the real app over the fakes (InMemoryIndex, HashEmbedder), as in conftest's `live`, on a knowledge
base written here: deterministic answers, since this is about the page, not retrieval quality.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import FAKE_CALIBRATION, ROOT
from tests.web.conftest import axe_violations, free_socket, serving, shot

from deflect.config import DEV_WIDGET_ID, Settings

pytestmark = pytest.mark.browser

# Our own words: the manual of a made-up command-line tool, as an HTML export (title, url and audience in <meta>).
PAGE = """<!doctype html><html><head><title>{title}</title>
<meta name="url" content="https://ropewalk.example/docs/{slug}.html">
<meta name="audience" content="{audience}"></head>
<body><h1>{title}</h1><p>{body}</p></body></html>
"""
PUBLIC = {
    "splicing": ("Splicing two ropes together", "Run ropewalk splice LEFT RIGHT; the splice is written to LEFT."),
    "tension": ("Measuring line tension", "ropewalk tension --unit kN prints the load on every line it finds."),
    "coiling": ("Coiling a line for storage", "ropewalk coil --flake lays the line in a figure eight, never twisted."),
    "knots": ("Tying a bowline with knotfile", "A knotfile lists knots; ropewalk tie bowline reads it and ties one."),
}
INTERNAL = ("Refund codes for damaged rope orders", "Support staff only: the refund code is SISAL-9921.")


def write_manual(root: Path) -> Path:
    """ropewalk's manual under root/ropewalk/html, as a tool's HTML docs are installed."""
    html = root / "ropewalk" / "html"
    html.mkdir(parents=True)
    for slug, (title, body) in PUBLIC.items():
        (html / f"{slug}.html").write_text(PAGE.format(title=title, slug=slug, audience="public", body=body))
    title, body = INTERNAL
    (html / "refunds.html").write_text(PAGE.format(title=title, slug="refunds", audience="internal", body=body))
    return html


@pytest.fixture(scope="module")
def ropewalk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    from deflect.api import create_app
    from deflect.store.sql import SqlStore
    from deflect.testing import HashEmbedder, InMemoryIndex
    from deflect.wiring import assemble

    tmp = tmp_path_factory.mktemp("ropewalk")
    kb = write_manual(tmp)
    sock = free_socket()
    settings = Settings(  # type: ignore[call-arg]
        kb_dir=kb,  # no product_name: derived from the folders
        data_dir=tmp / "data",
        database_url=f"sqlite:///{tmp / 'deflect.db'}",
        policy_file=ROOT / "config" / "policy.yaml",
        escalation_file=ROOT / "config" / "escalation.yaml",
        widgets={DEV_WIDGET_ID: [f"http://127.0.0.1:{sock.getsockname()[1]}"]},  # the demo page is deflect's own
        _env_file=None,
    )
    service = assemble(
        settings, InMemoryIndex(), HashEmbedder(), calibration=FAKE_CALIBRATION, store=SqlStore(settings.database_url)
    )
    service.ingest([kb], kb)
    with serving(create_app(settings, service), sock) as url:
        yield url


def test_the_demo_page_is_the_served_manual_s(page: Any, ropewalk: str) -> None:
    page.goto(f"{ropewalk}/demo")

    assert page.title() == "ropewalk Help Center (deflect demo)"
    assert page.locator("h1").inner_text() == "ropewalk Help Center"
    listed = page.locator("#examples li").all_inner_texts()
    titles = {title for title, _ in PUBLIC.values()}
    assert len(listed) == 3 and set(listed) <= titles
    assert INTERNAL[0] not in page.content()
    assert "Quiverly" not in page.content()

    page.wait_for_selector("deflect-widget[data-ready='1']", state="attached")
    widget = page.locator("deflect-widget")
    widget.get_by_role("button", name="ropewalk help").click()
    assert "Ask me anything about ropewalk." in widget.locator(".msg.bot").first.inner_text()
    offered = widget.locator("ul.examples button").all_inner_texts()
    assert offered == listed  # the widget offers what the page lists, in the same order

    asked = offered[0]
    widget.get_by_role("button", name=asked).click()
    assert widget.locator(".msg.user").last.inner_text() == asked
    bubble = widget.locator(".msg.bot").nth(1)
    bubble.locator(".answer[aria-busy='false']").wait_for()
    assert "error" not in (bubble.get_attribute("class") or "")
    slug = next(s for s, (title, _) in PUBLIC.items() if title == asked)
    if bubble.get_attribute("data-decision") == "answer":
        href = bubble.locator("ol.sources a").first.get_attribute("href")
        assert href == f"https://ropewalk.example/docs/{slug}.html"  # answered from the page the example names
    else:
        assert "esc_" in bubble.inner_text()  # the hand-off names its reference
    assert "SISAL-9921" not in widget.inner_text()
    shot(page, "demo-own-manual", full_page=False)
    assert axe_violations(page) == []  # the page and the open widget with its answer
    assert page.js_errors == []
