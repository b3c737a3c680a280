"""create_app(settings, service): thin routes over DeflectService."""

# No `from __future__ import annotations` here: FastAPI resolves route annotations from module globals, and
# `Depends(caller)` names a function local to create_app, so a string annotation cannot be resolved.

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import Depends, FastAPI, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StrictStr

from deflect import __version__
from deflect.api.admin import admin_router
from deflect.api.auth import Caller, Role, caller_dependency
from deflect.api.errors import error_body, install_error_handlers
from deflect.api.escalations import escalation_router
from deflect.api.feedback import feedback_router
from deflect.api.gaps import gaps_router
from deflect.api.keys import keys_router
from deflect.api.limits import RequestLimits
from deflect.api.metrics import install_metrics
from deflect.api.openapi import install_openapi
from deflect.api.requestid import RequestIds
from deflect.api.stream import stream_router
from deflect.config import Settings
from deflect.domain.models import AskResult
from deflect.service import DeflectService


class AskRequest(BaseModel):
    """Body of POST /v1/ask. The audience is never taken from here: it comes from the API key."""

    model_config = ConfigDict(extra="forbid")

    question: StrictStr = Field(description="The customer's or agent's question (1 to 2,000 characters).")
    conversation_id: StrictStr | None = Field(None, max_length=200, description="Optional thread id.")
    conversation: list[Annotated[StrictStr, Field(max_length=2000)]] = Field(
        default_factory=list,
        max_length=20,
        description="The customer's earlier messages in this conversation, oldest first; not the replies they got "
        "(the frustration trigger reads these as the customer's own words).",
    )
    customer_id: StrictStr | None = Field(
        None,
        max_length=200,
        description="Agent/admin keys: the customer asked for (spots repeat contacts). Customer keys: recorded as "
        "claimed only.",
    )
    customer_name: StrictStr | None = Field(
        None, max_length=200, description="Kept in the escalation packet; scrubbed from stored text and knowledge."
    )
    customer_tier: StrictStr | None = Field(
        None,
        max_length=50,
        description="e.g. standard, business, enterprise, vip: sets SLA clocks and priority for agent/admin keys; "
        "a customer key's tier is recorded as claimed and changes nothing.",
    )


def create_app(settings: Settings, service: DeflectService | None = None) -> FastAPI:
    """The FastAPI app; builds the real service from settings unless one is given (tests pass fakes)."""
    from deflect.web import install_web  # here, not at the top: deflect.web imports deflect.api

    if service is None:
        from deflect.wiring import build_service

        service = build_service(settings)
    svc = service
    caller = caller_dependency(settings, svc.keys)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        # What exists now (the model, Chroma, the service, the app) lives as long as the process: frozen, a full
        # collection no longer walks it. Each one took 0.4-0.9 s in the server at ~9k chunks and stalled the ask
        # it came in (benchmarks/scale.py, session 12); cycles made later are collected as before.
        gc.freeze()
        svc.start_jobs()  # the knowledge job indexes pending resolutions now and then periodically
        try:
            yield
        finally:
            svc.stop_jobs()

    app = FastAPI(
        lifespan=lifespan,
        title="deflect",
        version=__version__,
        description="Cited answers from the knowledge base, or an escalation.",
    )
    install_error_handlers(app)
    install_openapi(app, settings)
    app.add_middleware(RequestLimits, max_body_bytes=settings.max_body_bytes)
    install_metrics(app, svc)
    app.add_middleware(RequestIds)  # outermost: every log line of the request, metrics included, has its id

    @app.post("/v1/ask", response_model=AskResult, summary="Answer a question or escalate it")
    async def ask(body: AskRequest, who: Annotated[Caller, Depends(caller)], request: Request) -> Response:
        # Who the customer is comes from the credential: a customer key's body can only *claim* an identity.
        trusted = who.role is not Role.CUSTOMER
        claimed = {"id": body.customer_id, "name": body.customer_name, "tier": body.customer_tier}
        result = await run_in_threadpool(
            svc.ask,
            body.question,
            who.audience,
            conversation_id=body.conversation_id,
            conversation=body.conversation,
            customer_id=body.customer_id if trusted else None,
            customer_name=body.customer_name if trusted else None,
            customer_tier=body.customer_tier if trusted else None,
            claimed_customer=None if trusted else {k: v for k, v in claimed.items() if v},
            requester=None if trusted else who.actor,  # the customer key that may withdraw it (self_serve)
        )
        if result.escalation_id and await request.is_disconnected():
            # The asker left before hearing about the escalation: mark it, so nobody thinks they were told.
            await run_in_threadpool(svc.report_undelivered, result)
        # Serialised once by the model itself: returned as a model, FastAPI would dump it, validate the dump against
        # response_model and encode it again (the same JSON, ~0.5 ms more per ask; response_model documents it).
        return Response(result.model_dump_json(), media_type="application/json")

    @app.get("/healthz", summary="The process is up")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", summary="The index is reachable and populated, the model is loaded")
    def readyz() -> JSONResponse:
        checks = svc.readiness()
        if all(checks.values()):
            return JSONResponse({"status": "ready", "checks": checks})
        body = error_body("not_ready", "deflect is not ready", [checks])
        return JSONResponse(body, 503)

    app.include_router(escalation_router(svc, caller))
    app.include_router(admin_router(settings, svc, caller))
    app.include_router(keys_router(svc.keys, caller))
    app.include_router(gaps_router(svc, caller))
    app.include_router(stream_router(settings, svc, caller))
    install_web(app, settings, svc)
    if svc.feedback is not None:
        app.include_router(feedback_router(svc.feedback, caller))
    return app
