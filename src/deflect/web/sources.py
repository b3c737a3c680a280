"""GET /sources/{source_id}: deflect's own view of a knowledge source, the link a citation gets when its source
has no url of its own. A thin route over DeflectService.source; the page is built here, every value escaped.

Who sees what: a citation link is opened by a browser, usually without a key (a widget visitor), so no key means
the customer audience (public sources only). A valid key sees what its role's audience sees (agents and admins
also internal sources); a key that is sent but unknown is refused (401), never downgraded silently. A source the
caller may not see is the same 404 as one that does not exist.
"""

# No `from __future__ import annotations`: FastAPI resolves route annotations at definition time.

import html
import re
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Security
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse
from fastapi.security import HTTPAuthorizationCredentials
from markdown_it import MarkdownIt

from deflect.api.auth import API_KEY, BEARER, caller_dependency
from deflect.config import Settings
from deflect.domain.models import Audience, Chunk
from deflect.ingest.chunking import QUESTION_HEADING, RESOLUTION_MARK
from deflect.service import DeflectService

# Nothing on the page runs or loads: no scripts, no styles from anywhere, no framing by other sites.
SOURCE_CSP = "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"


# A source's text is Markdown: rendered as CommonMark (+ tables), with raw HTML escaped as text, no images (nothing
# loads: see SOURCE_CSP) and links only to the web or mail, as the widget's renderer (static/markdown.js) allows.
_MARKDOWN = MarkdownIt("commonmark", {"html": False}).enable("table").disable("image")
_MARKDOWN.validateLink = lambda url: url.lower().startswith(("https://", "http://", "mailto:"))  # type: ignore
_NOT_WORD = re.compile(r"[^\w]+")


def source_sections(chunks: list[Chunk]) -> list[tuple[str, str, str]]:
    """The source as (heading path, id, Markdown) sections in order, each heading once. An article chunk's text
    opens with its heading (context for embeddings, not content), so only its quotable part is shown; an
    escalation's first chunk holds it all (the question, then the resolution its later chunks repeat in parts).
    The id is the section's own on the original page when its url names one (a fragment that opened it there
    opens it here), else its heading's words; unique on the page."""
    first = chunks[0]
    if first.kind == "escalation":
        question = first.text[: first.quote_from - len(RESOLUTION_MARK)].removeprefix(f"{first.title}\n\n")
        found = [(QUESTION_HEADING, "", question), ("Resolution", "", first.quotable)]
    else:
        found = []
        for chunk in chunks:
            if found and found[-1][0] == chunk.heading_path:
                found[-1] = (*found[-1][:2], f"{found[-1][2]}\n\n{chunk.quotable}")
            else:
                found.append((chunk.heading_path, urlsplit(chunk.url).fragment, chunk.quotable))
    sections: list[tuple[str, str, str]] = []
    taken: set[str] = set()
    for heading, own, text in found:
        base = own if own and "=" not in own else _NOT_WORD.sub("-", heading.lower()).strip("-") or "top"
        ident, n = base, 1
        while ident in taken:
            n += 1
            ident = f"{base}-{n}"
        taken.add(ident)
        sections.append((heading, ident, text))
    return sections


def render_source(source_id: str, chunks: list[Chunk]) -> str:
    """The page: title, where the source lives, then each section once, its heading with an id to link to and its
    text rendered from Markdown. Source text is data, not markup: HTML in it is escaped and shows as text."""
    first = chunks[0]
    e = html.escape
    facts = [f"<code>{e(source_id)}</code>", e(first.audience)]
    if first.updated:
        facts.append(f"updated {e(first.updated)}")
    if first.url.startswith(("https://", "http://")):  # a link only to the web: never javascript: or data:
        facts.append(f'<a href="{e(first.url, quote=True)}" rel="noopener noreferrer">{e(first.url)}</a>')
    elif first.url:
        facts.append(e(first.url))
    parts = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<meta name="robots" content="noindex">',
        f"<title>{e(first.title)}</title></head><body><main>",
        f"<h1>{e(first.title)}</h1>",
        f"<p>{' · '.join(facts)}</p>",
    ]
    for heading, ident, text in source_sections(chunks):
        parts.append(f'<section id="{e(ident, quote=True)}">')
        if heading:
            parts.append(f"<h2>{e(heading)}</h2>")
        parts.extend([_MARKDOWN.render(text), "</section>"])
    parts.append("</main></body></html>")
    return "\n".join(parts)


def source_router(settings: Settings, svc: DeflectService) -> APIRouter:
    router = APIRouter(tags=["web"])
    caller = caller_dependency(settings, svc.keys)

    async def audience(
        bearer: Annotated[HTTPAuthorizationCredentials | None, Security(BEARER)] = None,
        x_api_key: Annotated[str | None, Security(API_KEY)] = None,
    ) -> Audience:
        if not x_api_key and not (bearer and bearer.credentials.strip()):
            return Audience.CUSTOMER  # an anonymous visitor following a citation link
        return (await caller(bearer, x_api_key, None)).audience  # raises Unauthorized for an unknown key

    # `:path`: source ids hold slashes (doc:articles/billing/refunds); the citation url quotes everything else.
    @router.get(
        "/sources/{source_id:path}",
        response_class=HTMLResponse,
        summary="A knowledge source as a page (the link of citations without a url of their own)",
        responses={404: {"description": "No such source, or one the caller's audience may not see."}},
    )
    async def source_page(source_id: str, who: Annotated[Audience, Depends(audience)]) -> HTMLResponse:
        chunks = await run_in_threadpool(svc.source, source_id, who)
        headers = {"Content-Security-Policy": SOURCE_CSP, "X-Content-Type-Options": "nosniff"}
        return HTMLResponse(render_source(source_id, chunks), headers=headers | {"Referrer-Policy": "no-referrer"})

    return router
