"""GET /sources/{source_id}: deflect's own view of a knowledge source, the link a citation gets when its source
has no url of its own. A thin route over DeflectService.source; the page is built here, every value escaped.

Who sees what: a citation link is opened by a browser, usually without a key (a widget visitor), so no key means
the customer audience (public sources only). A valid key sees what its role's audience sees (agents and admins
also internal sources); a key that is sent but unknown is refused (401), never downgraded silently. A source the
caller may not see is the same 404 as one that does not exist.
"""

# No `from __future__ import annotations`: FastAPI resolves route annotations at definition time.

import html
from typing import Annotated

from fastapi import APIRouter, Depends, Security
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse
from fastapi.security import HTTPAuthorizationCredentials

from deflect.api.auth import API_KEY, BEARER, caller_dependency
from deflect.config import Settings
from deflect.domain.models import Audience, Chunk
from deflect.service import DeflectService

# Nothing on the page runs or loads: no scripts, no styles from anywhere, no framing by other sites.
SOURCE_CSP = "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"


def render_source(source_id: str, chunks: list[Chunk]) -> str:
    """The page: title, where the source lives, then each chunk's heading path and text. Source text is data, not
    markup: it is escaped, so HTML in a source shows as text and never runs."""
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
    heading = None
    for chunk in chunks:
        if chunk.heading_path and chunk.heading_path != heading:
            parts.append(f"<h2>{e(chunk.heading_path)}</h2>")
        heading = chunk.heading_path or heading
        parts.extend(f"<p>{e(block.strip())}</p>" for block in chunk.text.split("\n\n") if block.strip())
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
