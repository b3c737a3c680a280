"""Browser test rig: a live deflect server (uvicorn in a thread on a free loopback port), a second server on
another port that plays the outside world (a company's site embedding the widget, and helpdesk parent frames for
the Chatwoot and Zendesk protocols), and Debian's headless Chromium driven by Playwright.

The deflect server is the real app (create_app) over the real SQL store on SQLite; the index and embedder are the
first-party fakes (InMemoryIndex, HashEmbedder) on a knowledge base written here, so answers are deterministic:
these tests are about the pages, the stream and the protocols, not retrieval quality.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import FAKE_CALIBRATION, ROOT, write_kb

from deflect.config import Settings
from deflect.service import DeflectService

CHROMIUM = os.environ.get("DEFLECT_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PAGES = Path(__file__).resolve().parent / "pages"
OUTPUT = ROOT / "tests" / "web" / "output"  # screenshots; ignored by git
SECRET = "browser-test-identity-secret-32by"

# Our own words. Raw HTML and a javascript: link inside a source must be shown as text, never run.
ARTICLE_EXPORT = """---
title: Exporting reports as CSV
url: https://help.example/reports/export-csv
audience: public
product: reports
tags: [reports, csv, export]
updated: 2026-02-11
---
# Exporting reports as CSV

## How to export a report as CSV

To export a report as CSV, open the report and click Export <img src=x onerror="window.__pwned=1"> then choose CSV <script>window.__pwned=2</script> as the format.

The export link [download](javascript:window.__pwned=3) expires after 24 hours.
"""  # noqa: E501 - a source's line is as long as its text


def free_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@dataclass
class Live:
    deflect: str  # http://127.0.0.1:PORT of deflect
    site: str  # http://127.0.0.1:PORT of the outside pages (allowed origin)
    other_site: str  # the same pages on http://localhost:PORT: another origin, not allowed
    service: DeflectService
    settings: Settings


class _Pages(SimpleHTTPRequestHandler):
    """Serves tests/web/pages, with {{deflect}} replaced by deflect's address."""

    deflect = ""

    def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
        name = self.path.split("?", 1)[0].lstrip("/")
        path = PAGES / name
        if not name or "/" in name or not path.is_file():
            self.send_error(404)
            return
        body = path.read_text(encoding="utf-8").replace("{{deflect}}", self.deflect).encode()
        self.send_response(200)
        kind = "text/javascript" if name.endswith(".js") else "text/html"
        self.send_header("Content-Type", f"{kind}; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@contextmanager
def serving(app: Any, sock: socket.socket) -> Iterator[str]:
    """`app` served by uvicorn in a thread on the bound socket `sock` until the block ends: its http://127.0.0.1:PORT."""
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline:
            pytest.fail("deflect did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


@pytest.fixture(scope="session")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    from deflect.api import create_app
    from deflect.store.sql import SqlStore
    from deflect.testing import HashEmbedder, InMemoryIndex
    from deflect.wiring import assemble

    tmp = tmp_path_factory.mktemp("web")
    kb = write_kb(tmp / "kb")
    (kb / "articles" / "export-csv.md").write_text(ARTICLE_EXPORT, encoding="utf-8")

    site_sock = free_socket()
    site_port = site_sock.getsockname()[1]
    site_sock.close()
    pages = ThreadingHTTPServer(("127.0.0.1", site_port), _Pages)
    site = f"http://127.0.0.1:{site_port}"

    settings = Settings(  # type: ignore[call-arg]
        kb_dir=kb,
        data_dir=tmp / "data",
        fusion_bm25_weight=0.1,
        database_url=f"sqlite:///{tmp / 'deflect.db'}",
        policy_file=ROOT / "config" / "policy.yaml",
        escalation_file=ROOT / "config" / "escalation.yaml",
        widgets={"wid_test": [site], "wid_nowhere": []},
        widget_identity_secret=SECRET,
        widget_rate_per_session=4,
        widget_rate_per_ip=1000,
        panel_origins=[site],
        zaf_sdk_url=f"{site}/fake-zaf-sdk.js",
        _env_file=None,
    )
    service = assemble(
        settings, InMemoryIndex(), HashEmbedder(), calibration=FAKE_CALIBRATION, store=SqlStore(settings.database_url)
    )
    service.ingest([kb], kb)
    with serving(create_app(settings, service), free_socket()) as deflect:
        _Pages.deflect = deflect
        page_thread = threading.Thread(target=pages.serve_forever, daemon=True)
        page_thread.start()
        try:
            yield Live(deflect, site, f"http://localhost:{site_port}", service, settings)
        finally:
            pages.shutdown()
            pages.server_close()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} not found: install Debian's chromium (`apt-get install chromium`; .ci/run does)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def context(browser: Any, live: Live) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live.deflect)
    context.set_default_timeout(20_000)  # generous: CI shares 2 cores with the rest of make test
    yield context
    context.close()


@pytest.fixture
def page(context: Any) -> Any:
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.js_errors = errors  # tests assert none happened
    return page


def shot(page: Any, name: str, full_page: bool = True) -> Path:
    """A screenshot under tests/web/output/ (look at it; two are copied into docs/)."""
    OUTPUT.mkdir(parents=True, exist_ok=True)
    path = OUTPUT / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path


AXE = Path(__file__).resolve().parent / "node_modules" / "axe-core" / "axe.min.js"


def axe_violations(target: Any, include: str | None = None) -> list[dict[str, Any]]:
    """axe-core's WCAG 2 A/AA violations on a page or frame (installed by `npm ci --prefix tests/web`; it is
    evaluated through the DevTools protocol, so the panel's CSP needs no exception for it)."""
    if not AXE.exists():
        pytest.fail(f"{AXE} missing: run `npm ci --prefix tests/web` (make test-web does)")
    target.evaluate(AXE.read_text(encoding="utf-8") + "\n;0")
    result = target.evaluate(
        """async (include) => {
            const r = await axe.run(include ? { include: [include] } : document,
                                    { runOnly: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] });
            return r.violations.map(v => ({ id: v.id, impact: v.impact, nodes: v.nodes.map(n => n.target) }));
        }""",
        include,
    )
    return list(result)
