"""The pages deflect serves to people: the agent panel (/panel), the customer widget (/widget.js and its small
API under /widget/v1/{widget_id}/...), a demo page (/demo) and their static files. Thin routes over the same
DeflectService as /v1: no route here touches the store or the index directly.
"""

# No `from __future__ import annotations`: FastAPI resolves route annotations at definition time.

import html
import logging
import re
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

import anyio
from fastapi import APIRouter, FastAPI, Header, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr, ValidationError

from deflect.api.errors import error_body
from deflect.api.escalations import SelfServeRequest, self_served
from deflect.api.stream import ask_stream, event_stream, source_info
from deflect.config import DEV_WIDGET_ID, Settings
from deflect.domain.models import AskResult, Audience
from deflect.errors import DeflectError, NotFound, Unauthorized, ValidationFailed
from deflect.service import DeflectService, new_answer_id, validate_question
from deflect.web.ratelimit import RateLimiter
from deflect.web.sources import source_router
from deflect.web.widgets import Visitor, WidgetGate

log = logging.getLogger(__name__)
HERE = Path(__file__).resolve().parent
STATIC = HERE / "static"
TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml"}
WIDGET_HEADERS = "Content-Type, X-Deflect-Session, X-Deflect-Identity"
REQUESTS_SHOWN = 10
SLOT = re.compile(r"\{\{(\w+)\}\}")


class WidgetAsk(BaseModel):
    """A question from the widget. No audience, key or customer fields: the widget id and identity token decide."""

    model_config = ConfigDict(extra="forbid")

    question: StrictStr
    conversation_id: StrictStr | None = Field(None, max_length=200)
    # The visitor's earlier questions, never deflect's answers: the frustration trigger reads them as the customer's.
    conversation: list[Annotated[StrictStr, Field(max_length=2000)]] = Field(default_factory=list, max_length=20)


class WidgetContact(BaseModel):
    """The address an anonymous visitor leaves after a hand-off, for the team's reply (the chat cannot take one)."""

    model_config = ConfigDict(extra="forbid")

    # One @, a dot in the domain, no spaces: enough to catch a typo or a name typed in the wrong field. Whether it
    # is deliverable is the reply's business, not a validator's.
    email: StrictStr = Field(max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class WidgetFeedback(BaseModel):
    model_config = ConfigDict(extra="forbid")

    helpful: StrictBool
    comment: StrictStr | None = Field(None, max_length=2000)


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""


def panel_csp(settings: Settings) -> str:
    """The panel may be framed by the configured helpdesks only, and runs only its own scripts (and ZAF's)."""
    ancestors = " ".join(["'self'", *settings.panel_origins])
    zaf = origin_of(settings.zaf_sdk_url)
    return (
        "default-src 'self'; "
        f"script-src 'self' {zaf}; "
        "style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        "object-src 'none'; base-uri 'none'; form-action 'none'; "
        f"frame-ancestors {ancestors}"
    )


def _page(name: str, values: dict[str, str], markup: dict[str, str] | None = None) -> str:
    """A page with each {{slot}} filled from `values`, escaped, or `markup`, HTML its caller escaped. One pass, so a
    value holding "{{slot}}" (a KB title can) stays text and fills nothing."""
    markup = markup or {}

    def fill(slot: re.Match[str]) -> str:
        key = slot.group(1)
        if key in values:
            return html.escape(values[key], quote=True)
        return markup.get(key, slot.group(0))

    return SLOT.sub(fill, (HERE / "pages" / name).read_text(encoding="utf-8"))


def demo_page(product: str, examples: list[str] | None, widget_src: str, widget_id: str) -> str:
    """The demo help page of `product`, offering `examples` (None: the index could not be read, [] nothing public
    is indexed) on the page and in its widget."""
    if examples:
        items = "".join(f"<li>{html.escape(e)}</li>" for e in examples)
        listing = f'<ul id="examples">{items}</ul>'
    elif examples is None:
        listing = '<p id="examples">The knowledge base cannot be read right now; the widget still takes questions.</p>'
    else:
        listing = (
            '<p id="examples">Nothing is indexed yet: run <code>deflect ingest</code> on your knowledge base, then '
            "reload this page.</p>"
        )
    values = {
        "product": product,
        "widget_src": widget_src,
        "widget_id": widget_id,
        "examples": "|".join(examples or []),
    }
    return _page("demo.html", values, {"examples_list": listing})


def web_router(settings: Settings, svc: DeflectService) -> APIRouter:
    router = APIRouter(include_in_schema=True, tags=["web"])
    gate = WidgetGate(settings, svc.keys)
    limiter = RateLimiter(settings.data_dir / "ratelimit.sqlite3")
    static_files = {p.name: p for p in STATIC.iterdir() if p.suffix in TYPES}

    @router.get("/panel", response_class=HTMLResponse, summary="The agent side panel (standalone, Chatwoot, Zendesk)")
    def panel() -> HTMLResponse:
        body = _page(
            "panel.html",
            {"panel_origins": " ".join(settings.panel_origins), "zaf_sdk_url": settings.zaf_sdk_url},
        )
        headers = {"Content-Security-Policy": panel_csp(settings), "Referrer-Policy": "no-referrer"}
        return HTMLResponse(body, headers=headers)

    @router.get("/demo", response_class=HTMLResponse, summary="A demo help page with the customer widget")
    def demo(request: Request) -> HTMLResponse:
        widget_id = DEV_WIDGET_ID if DEV_WIDGET_ID in settings.widgets else next(iter(settings.widgets), "")
        base = str(request.base_url).rstrip("/")
        try:
            examples: list[str] | None = svc.example_questions()
        except DeflectError as exc:  # the page is still served, saying the examples are unavailable
            log.warning("demo page without examples: %s", exc.message)
            examples = None
        return HTMLResponse(demo_page(settings.product, examples, f"{base}/widget.js", widget_id))

    def static(name: str) -> Response:
        path = static_files.get(name)
        if path is None:
            raise NotFound("no such file", [{"file": name}])
        # Public files: any site that embeds the widget loads its modules cross-origin.
        headers = {"Access-Control-Allow-Origin": "*", "Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"}
        return Response(path.read_bytes(), media_type=TYPES[path.suffix], headers=headers)

    @router.get("/widget.js", summary="The one script a site embeds")
    def widget_js() -> Response:
        return static("widget.js")

    @router.get("/static/deflect/{name}", summary="Static files of the panel and the widget")
    def static_file(name: str) -> Response:
        return static(name)

    # --- the widget's API: CORS for the widget's allowed origins only -------------------------------------------

    def cors(origin: str) -> dict[str, str]:
        return {
            "Access-Control-Allow-Origin": origin,
            "Access-Control-Expose-Headers": "Retry-After",
            "Vary": "Origin",
        }

    def failure(exc: DeflectError, origin: str | None, widget_id: str) -> JSONResponse:
        # Errors reach the widget (it shows them) only on an allowed origin; others get no CORS headers at all.
        headers = cors(origin) if origin and gate.allowed(widget_id, origin) else {}
        return JSONResponse(error_body(exc.code, exc.message, exc.details), exc.status, headers=headers)

    def limited(visitor_key: str | None, ip: str, origin: str) -> JSONResponse | None:
        checks = [(f"ip:{ip}", settings.widget_rate_per_ip)]
        if visitor_key:
            checks.append((visitor_key, settings.widget_rate_per_session))
        for key, limit in checks:
            wait = limiter.hit(key, limit)
            if wait:
                body = error_body(
                    "rate_limited",
                    f"You have asked a lot of questions in a short time. Please try again in {wait} seconds.",
                    [{"retry_after_s": wait}],
                )
                return JSONResponse(body, 429, headers=cors(origin) | {"Retry-After": str(wait)})
        return None

    async def parse(request: Request, model: type[BaseModel]) -> Any:
        try:
            return model.model_validate_json(await request.body())
        except ValidationError as exc:
            details = [
                {"field": ".".join(str(p) for p in e.get("loc", ())), "problem": e.get("type"), "message": e.get("msg")}
                for e in exc.errors()
            ]
            raise ValidationFailed("the request is not valid", details) from None

    @router.options("/widget/v1/{widget_id}/{rest:path}", include_in_schema=False)
    def preflight(widget_id: str, rest: str, origin: Annotated[str | None, Header()] = None) -> Response:
        if not gate.allowed(widget_id, origin):
            return Response(status_code=403)
        headers = cors(origin or "") | {
            "Access-Control-Allow-Methods": "GET, POST",
            "Access-Control-Allow-Headers": WIDGET_HEADERS,
            "Access-Control-Max-Age": "600",
        }
        return Response(status_code=204, headers=headers)

    def client_ip(request: Request) -> str:
        return request.client.host if request.client else "unknown"

    def who(request: Request, widget_id: str) -> Visitor:
        return gate.visitor(
            widget_id,
            request.headers.get("origin"),
            request.headers.get("x-deflect-session"),
            request.headers.get("x-deflect-identity"),
        )

    async def admit(request: Request, widget_id: str, model: type[BaseModel]) -> tuple[Visitor, Any] | JSONResponse:
        """The visitor and the parsed body of a small widget POST, or the 429 if the client IP is over its limit;
        DeflectError for a bad widget id, origin, session, token or body."""
        visitor = await anyio.to_thread.run_sync(who, request, widget_id)
        blocked = await anyio.to_thread.run_sync(limited, None, client_ip(request), visitor.origin)
        if blocked is not None:
            return blocked
        return visitor, await parse(request, model)

    @router.post("/widget/v1/{widget_id}/ask/stream", summary="The widget's streamed ask (customer audience)")
    async def widget_ask(widget_id: str, request: Request) -> Response:
        origin = request.headers.get("origin")
        try:
            # In a worker thread: a widget id made with `deflect keys` is read from the database.
            visitor = await anyio.to_thread.run_sync(who, request, widget_id)
            blocked = await anyio.to_thread.run_sync(limited, visitor.rate_key, client_ip(request), visitor.origin)
            if blocked is not None:
                return blocked
            body: WidgetAsk = await parse(request, WidgetAsk)
            validate_question(body.question, settings.max_question_chars)
        except DeflectError as exc:
            return await anyio.to_thread.run_sync(failure, exc, origin, widget_id)

        # Only public content, and the visitor's identity from the verified token, never from the body.
        answer_id = new_answer_id()
        ask = partial(
            svc.ask,
            body.question,
            Audience.CUSTOMER,
            **body.model_dump(exclude={"question"}),
            customer_id=visitor.customer_id,
            customer_name=visitor.name,
            customer_tier=visitor.tier,
            answer_id=answer_id,
            requester=visitor.requester,
        )
        meta = {"id": answer_id, "conversation_id": body.conversation_id, "audience": Audience.CUSTOMER.value}

        def describe(result: AskResult) -> dict[str, dict[str, str]]:
            return source_info(svc, [c.source_id for c in result.citations], Audience.CUSTOMER)

        response = event_stream(ask_stream(ask, describe, meta, undelivered=svc.report_undelivered))
        response.headers.update(cors(visitor.origin))
        return response

    @router.get("/widget/v1/{widget_id}/requests", summary="An identified visitor's hand-offs, on any device")
    async def widget_requests(widget_id: str, request: Request) -> Response:
        origin = request.headers.get("origin")
        try:
            visitor = await anyio.to_thread.run_sync(who, request, widget_id)
            if not visitor.identified:
                raise Unauthorized("sign in on the site to see your earlier requests")
            blocked = await anyio.to_thread.run_sync(limited, None, client_ip(request), visitor.origin)
            if blocked is not None:
                return blocked
            found = await anyio.to_thread.run_sync(
                lambda: svc.desk.list(customer_id=visitor.customer_id, limit=REQUESTS_SHOWN)
            )
        except DeflectError as exc:
            return await anyio.to_thread.run_sync(failure, exc, origin, widget_id)
        # What the customer may see of their own requests: no notes, drafts, sources or internal fields.
        shown = [
            {"id": e.id, "question": e.question, "state": e.state.value, "created_at": e.created_at.isoformat()}
            for e in found
        ]
        return JSONResponse(shown, headers=cors(visitor.origin))

    async def own_escalation(
        request: Request, widget_id: str, model: type[BaseModel], call: Callable[[Visitor, Any], Any]
    ) -> Response:
        """A visitor's action on an escalation they raised: `call(visitor, body)` in a worker thread, its result as
        JSON (the desk checks the escalation is theirs: anyone else's is the same 404 as an unknown id)."""
        origin = request.headers.get("origin")
        try:
            admitted = await admit(request, widget_id, model)
            if isinstance(admitted, JSONResponse):
                return admitted
            visitor, body = admitted
            result = await anyio.to_thread.run_sync(call, visitor, body)
        except DeflectError as exc:
            return await anyio.to_thread.run_sync(failure, exc, origin, widget_id)
        return JSONResponse(result, headers=cors(visitor.origin))

    @router.post(
        "/widget/v1/{widget_id}/escalations/{escalation_id}/self_serve",
        summary="'This solved it': the visitor withdraws their own escalation (the session or signed user that asked)",
    )
    async def widget_self_serve(widget_id: str, escalation_id: str, request: Request) -> Response:
        def withdraw(visitor: Visitor, body: SelfServeRequest) -> dict[str, Any]:
            esc, message = svc.desk.self_serve(escalation_id, visitor.requester, body.page)
            return self_served(esc, message).model_dump(mode="json")

        return await own_escalation(request, widget_id, SelfServeRequest, withdraw)

    @router.post(
        "/widget/v1/{widget_id}/escalations/{escalation_id}/contact",
        summary="The visitor who raised an escalation leaves the email address the team's reply goes to",
    )
    async def widget_contact(widget_id: str, escalation_id: str, request: Request) -> Response:
        def leave(visitor: Visitor, body: WidgetContact) -> dict[str, Any]:
            esc = svc.desk.leave_contact(escalation_id, visitor.requester, body.email)
            return {"id": esc.id, "contact_email": esc.contact_email}

        return await own_escalation(request, widget_id, WidgetContact, leave)

    @router.post("/widget/v1/{widget_id}/answers/{answer_id}/feedback", summary="The widget's 'that helped' vote")
    async def widget_feedback(widget_id: str, answer_id: str, request: Request) -> Response:
        origin = request.headers.get("origin")
        try:
            admitted = await admit(request, widget_id, WidgetFeedback)
            if isinstance(admitted, JSONResponse):
                return admitted
            visitor, body = admitted
            if svc.feedback is None:
                raise NotFound("feedback is not enabled")
            desk = svc.feedback
            result = await anyio.to_thread.run_sync(
                lambda: desk.record(answer_id, body.helpful, body.comment, None, "customer", visitor.voter)
            )
        except DeflectError as exc:
            return await anyio.to_thread.run_sync(failure, exc, origin, widget_id)
        payload = {"id": result.record.id, "answer_id": answer_id, "offer_escalation": result.offer_escalation}
        return JSONResponse(payload, 201, headers=cors(visitor.origin))

    return router


def install_web(app: FastAPI, settings: Settings, svc: DeflectService) -> None:
    """Add the panel, the widget, the demo page and the source view to the API app."""
    app.include_router(web_router(settings, svc))
    app.include_router(source_router(settings, svc))
