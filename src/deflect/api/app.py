"""create_app(settings, service): thin routes over DeflectService."""

# No `from __future__ import annotations` here: FastAPI resolves route annotations from module globals, and
# `Depends(audience)` names a function local to create_app, so a string annotation cannot be resolved.

from typing import Annotated

from fastapi import Depends, FastAPI, Header
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StrictStr

from deflect import __version__
from deflect.api.errors import error_body, install_error_handlers
from deflect.config import Settings
from deflect.domain.models import AskResult, Audience
from deflect.errors import Unauthorized
from deflect.service import DeflectService


class AskRequest(BaseModel):
    """Body of POST /v1/ask. The audience is never taken from here: it comes from the API key."""

    model_config = ConfigDict(extra="forbid")

    question: StrictStr = Field(description="The customer's or agent's question (1 to 2,000 characters).")
    conversation_id: StrictStr | None = Field(None, max_length=200, description="Optional thread id.")


def create_app(settings: Settings, service: DeflectService | None = None) -> FastAPI:
    """The FastAPI app; builds the real service from settings unless one is given (tests pass fakes)."""
    if service is None:
        from deflect.wiring import build_service

        service = build_service(settings)
    svc = service
    roles = {key: Audience.CUSTOMER for key in settings.customer_api_keys}
    roles.update({key: Audience.AGENT for key in settings.agent_api_keys})

    app = FastAPI(
        title="deflect",
        version=__version__,
        description="Cited answers from the knowledge base, or an escalation.",
    )
    install_error_handlers(app)

    def audience(
        authorization: Annotated[str | None, Header()] = None,
        x_api_key: Annotated[str | None, Header()] = None,
    ) -> Audience:
        key = x_api_key or (
            authorization[7:].strip() if authorization and authorization.lower().startswith("bearer ") else None
        )
        if not key:
            raise Unauthorized("missing API key: send `Authorization: Bearer <key>` or `X-API-Key`")
        role = roles.get(key)
        if role is None:
            raise Unauthorized("unknown API key")
        return role

    @app.post("/v1/ask", response_model=AskResult, summary="Answer a question or escalate it")
    def ask(body: AskRequest, who: Annotated[Audience, Depends(audience)]) -> AskResult:
        return svc.ask(body.question, who, body.conversation_id)

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

    return app
