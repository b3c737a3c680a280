"""The panel and the demo page's widget against a real `deflect serve` process: the packaged MiniLM model, embedded
Chroma and SQLite, on the tests' knowledge base after a real `deflect ingest`, exactly what `make run` serves.
Which way deflect decides depends on the real model and its calibration, so these tests check the whole path
(page, script, stream, index) and what must hold either way, not a particular decision."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.conftest import ROOT, write_kb
from tests.web.conftest import free_socket, shot

from deflect.config import DEV_AGENT_KEY, DEV_WIDGET_ID

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("serve")
    kb = write_kb(tmp / "kb")
    sock = free_socket()
    port = sock.getsockname()[1]
    sock.close()
    base = f"http://127.0.0.1:{port}"
    env = os.environ | {
        "DEFLECT_KB_DIR": str(kb),
        "DEFLECT_DATA_DIR": str(tmp / "data"),
        "DEFLECT_DATABASE_URL": f"sqlite:///{tmp / 'deflect.db'}",
        "DEFLECT_WIDGETS": json.dumps({DEV_WIDGET_ID: [base]}),
        "DEFLECT_PRODUCT_NAME": "Quiverly",  # the tests' kb is a piece of the sample's, as `make run` names it
    }
    deflect = str(Path(sys.executable).with_name("deflect"))
    subprocess.run([deflect, "ingest"], env=env, cwd=ROOT, check=True, capture_output=True, timeout=600)
    log = (tmp / "serve.log").open("wb")  # a file, not a pipe: a full pipe would stall the server
    server = subprocess.Popen([deflect, "serve", "--port", str(port)], env=env, cwd=ROOT, stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                if httpx.get(f"{base}/readyz", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                tail = (tmp / "serve.log").read_text(errors="replace")[-2000:]
                pytest.fail(f"deflect serve did not become ready: {tail}")
            time.sleep(0.3)
        yield base
    finally:
        server.terminate()
        server.wait(timeout=20)
        log.close()


def test_panel_on_the_real_stack(page: Any, served: str) -> None:
    page.goto(f"{served}/panel?q=How%20do%20I%20reset%20my%20password%3F")
    page.wait_for_selector("body[data-ready='1']")
    page.get_by_label("Agent API key").fill(DEV_AGENT_KEY)
    page.get_by_role("button", name="Save key").click()
    page.get_by_role("button", name="Ask deflect").click()
    page.wait_for_selector("body[data-asked='1']", timeout=60_000)
    verdict = str(page.locator("#verdict").text_content())
    assert "Answered" in verdict or "Escalated" in verdict
    if "Answered" in verdict:
        hrefs = page.locator("#citations a").evaluate_all("links => links.map(a => a.href)")
        assert "https://help.example/accounts/reset-password" in hrefs
    else:
        assert page.locator("#reasons li").count() >= 1  # an escalation always says why
    shot(page, "real-serve-panel")
    assert page.js_errors == []


def test_demo_page_widget_on_the_real_stack(page: Any, served: str) -> None:
    page.goto(f"{served}/demo")
    page.wait_for_selector("deflect-widget[data-ready='1']", state="attached")
    widget = page.locator("deflect-widget")
    widget.get_by_role("button", name="Quiverly help").click()
    # An example the demo page drew from the served kb: the title of one of its two public articles.
    widget.get_by_role("button", name="Resetting your password").click()
    bubble = widget.locator(".msg.bot").nth(1)
    bubble.locator(".answer[aria-busy='false']").wait_for(timeout=60_000)
    assert "error" not in (bubble.get_attribute("class") or "")
    if bubble.get_attribute("data-decision") == "answer":
        assert (
            bubble.locator("ol.sources a").first.get_attribute("href") == "https://help.example/accounts/reset-password"
        )
    else:
        assert "esc_" in bubble.inner_text()  # the hand-off names its reference
    shot(page, "real-serve-demo-widget", full_page=False)
    assert page.js_errors == []
