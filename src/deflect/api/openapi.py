"""The OpenAPI document as the API really is: security schemes, the one error body on every error status, the
question's length limit from settings. Checked by schemathesis against a real server (tests/integration)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel, Field

from deflect.config import Settings


class ErrorDetail(BaseModel):
    code: str = Field(description="Stable machine-readable code, e.g. validation_failed, index_unavailable.")
    message: str = Field(description="What went wrong, for a human.")
    details: list[dict[str, Any]] = Field(description="Structured specifics (fields, limits, ids).")


class ErrorBody(BaseModel):
    """Every error deflect returns, whatever the status."""

    error: ErrorDetail


# Statuses each kind of operation can answer with (beside `default`, which also carries the error body).
_ERRORS = {
    "401": "Missing or unknown API key",
    "403": "The key's role may not do this",
    "413": "Request body over DEFLECT_MAX_BODY_BYTES",
    "422": "The request is not valid",
    "503": "A dependency (index, database) is unavailable; nothing was stored",
}
_PUBLIC = {"/healthz", "/readyz", "/openapi.json", "/docs", "/redoc"}


def install_openapi(app: FastAPI, settings: Settings) -> None:
    """Replace app.openapi with a generator that documents errors and limits as they are served."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components["ErrorBody"] = ErrorBody.model_json_schema(ref_template="#/components/schemas/{model}")
        components.update(components["ErrorBody"].pop("$defs", {}))
        for name in ("HTTPValidationError", "ValidationError"):
            components.pop(name, None)
        error = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}
        for path, item in schema.get("paths", {}).items():
            for method, operation in item.items():
                responses = operation.setdefault("responses", {})
                wanted = dict(_ERRORS)
                if path in _PUBLIC or not operation.get("security"):
                    wanted.pop("401")
                    wanted.pop("403")
                if method in ("get", "head"):
                    wanted.pop("413")
                if "{" in path:
                    wanted["404"] = "No such record"
                if path.startswith("/v1/escalations/") and method == "post":
                    wanted["409"] = "The escalation's state does not allow this, or it changed meanwhile"
                for status, description in wanted.items():
                    responses[status] = {"description": description, "content": error}
                responses["default"] = {"description": "Any other error, in the same body", "content": error}
        ask = components.get("AskRequest", {}).get("properties", {}).get("question")
        if ask is not None:
            ask.update({"minLength": 1, "maxLength": settings.max_question_chars})
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
