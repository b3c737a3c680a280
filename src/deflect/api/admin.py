"""Admin routes for work the serving process owns: ingestion while serving (POST /v1/admin/ingest), and the
calibration in force (GET /v1/admin/calibration)."""

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StrictStr

from deflect.api.auth import Caller, CallerDependency, admin
from deflect.config import Settings
from deflect.errors import Conflict, ValidationFailed
from deflect.service import DeflectService


class IngestRequest(BaseModel):
    """Files or folders inside the server's knowledge base folder; none means all of it."""

    model_config = ConfigDict(extra="forbid")

    paths: list[Annotated[StrictStr, Field(min_length=1, max_length=1000)]] = Field(
        default_factory=list, max_length=100
    )


def admin_router(settings: Settings, svc: DeflectService, caller: CallerDependency) -> APIRouter:
    """Routes that need an admin key."""
    router = APIRouter(prefix="/v1/admin", tags=["admin"])

    def admin_caller(who: Annotated[Caller, Depends(caller)]) -> Caller:
        return admin(who)

    @router.post(
        "/ingest",
        status_code=202,
        summary="Ingest (part of) the knowledge base in this process, in the background; progress at GET /v1/jobs",
    )
    def ingest(body: IngestRequest, who: Annotated[Caller, Depends(admin_caller)]) -> JSONResponse:
        root = settings.kb_dir.resolve()
        try:
            targets = [Path(p).resolve() for p in body.paths] or [root]
        except (ValueError, OSError) as exc:  # a NUL byte, a path the OS refuses
            raise ValidationFailed(f"not a usable path: {exc}", [{"field": "paths", "problem": "bad_path"}]) from None
        outside = [str(p) for p in targets if not p.is_relative_to(root)]
        if outside:
            # The server reads only its own knowledge base: an admin key is not a way to index arbitrary files.
            raise ValidationFailed(
                f"paths must be inside the knowledge base folder {root}",
                [{"field": "paths", "problem": "outside_kb", "paths": outside}],
            )
        missing = [str(p) for p in targets if not p.exists()]
        if missing:
            raise ValidationFailed("paths do not exist", [{"field": "paths", "problem": "missing", "paths": missing}])
        before = svc.jobs["ingest"].runs
        if not svc.request_ingest(targets, settings.kb_dir):
            raise Conflict("an ingest is already running; see GET /v1/jobs", [{"job": "ingest"}])
        # `runs_before`: the run this request started is finished once the job's `runs` exceeds it.
        status: dict[str, Any] = {**svc.jobs["ingest"].status(), "runs_before": before}
        return JSONResponse(status, 202)

    @router.get(
        "/calibration",
        summary="The calibration in force: its threshold, what it was fitted on (the KB's probes, and the desk's "
        "labelled questions when there were enough) and its cross-checked risk and coverage",
    )
    def calibration(who: Annotated[Caller, Depends(admin_caller)]) -> dict[str, Any]:
        cal = svc.calibration
        return {
            "threshold": svc.rules.answer_threshold,
            "fitted_threshold": cal.threshold,
            "target_risk": cal.target_risk,
            "embedder": cal.embedder,
            "features": cal.features,
            "fitted_on": cal.fitted_on,
            "kb_hash": cal.kb_hash,
            "notes": cal.notes,
            "job": svc.jobs["calibration"].status(),
        }

    return router
