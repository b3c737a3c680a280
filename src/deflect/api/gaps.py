"""GET /v1/gaps: content gaps over a window (agent or admin keys)."""

from typing import Annotated, Protocol

from fastapi import APIRouter, Depends, Query

from deflect.api.auth import Caller, CallerDependency, staff
from deflect.gaps import GapReport


class GapsProvider(Protocol):
    """Anything that can produce the gap report: a GapFinder, or the service once it exposes one."""

    def gaps(self, days: float = 30, min_size: int = 2) -> GapReport: ...


def gaps_router(svc: GapsProvider, caller: CallerDependency) -> APIRouter:
    """The gaps route; it needs a staff key (customers never see other customers' questions)."""
    router = APIRouter(prefix="/v1", tags=["gaps"])

    def staff_caller(who: Annotated[Caller, Depends(caller)]) -> Caller:
        return staff(who)

    @router.get("/gaps", response_model=GapReport, summary="Clusters of escalated and unhelpful questions")
    def gaps(
        who: Annotated[Caller, Depends(staff_caller)],
        days: Annotated[float, Query(gt=0, le=3650, description="Window: the last N days.")] = 30,
        min_size: Annotated[int, Query(ge=1, le=10_000, description="Hide clusters smaller than this.")] = 2,
    ) -> GapReport:
        return svc.gaps(days=days, min_size=min_size)

    return router
