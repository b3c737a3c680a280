"""Escalation workflow, audit and stats routes (agent or admin keys), and the one customer route: withdrawing
one's own escalation because a suggested page solved it (`self_serve`)."""

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from deflect.api.auth import Caller, CallerDependency, Role, admin, staff
from deflect.domain.escalation import OTHER_PAGE, AuditEvent, Escalation, Priority, State, Tier
from deflect.errors import Forbidden, ValidationFailed
from deflect.escalations.lifecycle import CUSTOMER_ACTIONS, Action
from deflect.escalations.queue import Order
from deflect.escalations.stats import stats_from_store
from deflect.service import DeflectService

NDJSON = "application/x-ndjson"
TOTAL_COUNT = "X-Total-Count"
# Ids are ours (esc_<hex>); the bound keeps a hostile path out of the database query.
EscalationId = Annotated[str, Path(min_length=1, max_length=100)]


class NdjsonResponse(Response):
    media_type = NDJSON


class ActionRequest(BaseModel):
    """Body of an escalation action: a note or a bounce reason (resolve has its own route)."""

    model_config = ConfigDict(extra="forbid")

    note: str | None = Field(None, max_length=10_000)
    reason: str | None = Field(None, max_length=2_000, description="Required for bounce and takeover.")


class ResolveRequest(BaseModel):
    """Body of a resolve: the resolution becomes knowledge (internal unless published)."""

    model_config = ConfigDict(extra="forbid")

    resolution: str = Field(min_length=1, max_length=20_000, description="What fixed it; scrubbed of personal data.")
    publish: bool = Field(False, description="Make the resolution visible to customers too.")
    public_resolution: str | None = Field(
        None, max_length=20_000, description="An edited customer-facing version, published beside the full one."
    )
    note: str | None = Field(None, max_length=10_000)


class ResolveResponse(BaseModel):
    escalation: Escalation
    knowledge_sources: list[str] = Field(description="The resolution's knowledge source ids, e.g. esc:<id>.")
    knowledge_state: Literal["searchable", "pending"] = Field(
        description="`pending`: committed, but the index could not take it yet; the knowledge job retries it."
    )
    searchable_ms: float | None = Field(
        description="Time from the committed resolution to the sources being searchable; null while pending."
    )


class SelfServeRequest(BaseModel):
    """Body of a self-serve: which of the suggested pages solved it."""

    model_config = ConfigDict(extra="forbid")

    page: str = Field(
        min_length=1,
        max_length=500,
        description=f"The source id of a page suggested with the hand-off, or {OTHER_PAGE!r} (something else did).",
    )


class SelfServed(BaseModel):
    """What the customer may see of their withdrawn escalation (no packet: it holds internal fields)."""

    id: str
    state: State
    page: str = Field(description="The page recorded as the one that solved it (the first one named, on a repeat).")
    message: str = Field(description="The text to show the customer now, in place of the hand-off.")


def self_served(esc: Escalation, message: str) -> SelfServed:
    """The customer's view of a withdrawn escalation."""
    return SelfServed(id=esc.id, state=esc.state, page=esc.self_served_page or OTHER_PAGE, message=message)


def escalation_router(svc: DeflectService, caller: CallerDependency) -> APIRouter:
    """Routes over svc.desk; every route requires a staff key, exporting the audit log an admin key."""
    router = APIRouter(prefix="/v1", tags=["escalations"])
    desk = svc.desk

    def staff_caller(who: Annotated[Caller, Depends(caller)]) -> Caller:
        return staff(who)

    def admin_caller(who: Annotated[Caller, Depends(caller)]) -> Caller:
        return admin(who)

    Staff = Annotated[Caller, Depends(staff_caller)]

    def customer_caller(who: Annotated[Caller, Depends(caller)]) -> Caller:
        if who.role is not Role.CUSTOMER:
            raise Forbidden("only the customer who raised an escalation may withdraw it; staff resolve or bounce it")
        return who

    @router.get(
        "/escalations",
        response_model=list[Escalation],
        summary="List escalations, newest first or most urgent first, a page at a time",
        responses={
            200: {
                "headers": {
                    TOTAL_COUNT: {
                        "description": "How many escalations match the filters in all (every page together).",
                        "schema": {"type": "integer"},
                    }
                }
            }
        },
    )
    def list_escalations(
        who: Staff,
        response: Response,
        state: State | None = None,
        open_only: Annotated[
            bool, Query(alias="open", description="Every state but the final ones (resolved, self_served).")
        ] = False,
        priority: Priority | None = None,
        tier: Tier | None = None,
        customer_id: Annotated[str | None, Query(max_length=200)] = None,
        order: Annotated[
            Order,
            Query(
                description="`newest`: created last first. `priority`: what needs attention first: critical to low, "
                "then the next SLA deadline (acknowledge while unacknowledged, else resolve), then the oldest."
            ),
        ] = Order.NEWEST,
        offset: Annotated[int, Query(ge=0, le=100_000, description="Skip this many (the pages before).")] = 0,
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
    ) -> list[Escalation]:
        if open_only and state is not None:
            raise ValidationFailed("use either `state` or `open`, not both")
        states = desk.open_states() if open_only else state  # open: neither resolved nor self_served
        items, total = desk.page(
            state=states, priority=priority, tier=tier, customer_id=customer_id, order=order, offset=offset, limit=limit
        )
        response.headers[TOTAL_COUNT] = str(total)
        return items

    @router.post("/escalations/sweep", summary="Check SLA clocks: raise breached escalations, list warnings (admin)")
    def sweep(who: Annotated[Caller, Depends(admin_caller)]) -> dict[str, list[str]]:
        return desk.sweep()

    @router.get("/escalations/{escalation_id}", summary="One escalation with its SLA status and engineering briefing")
    def get_escalation(escalation_id: EscalationId, who: Staff) -> dict[str, Any]:
        return desk.view(escalation_id)

    @router.post(
        "/escalations/{escalation_id}/resolve",
        response_model=ResolveResponse,
        summary="Resolve; the resolution becomes searchable knowledge at once",
    )
    def resolve(escalation_id: EscalationId, body: ResolveRequest, who: Staff) -> ResolveResponse:
        esc, sources, ms = svc.resolve_escalation(
            escalation_id, who.actor, body.resolution, body.publish, body.public_resolution, body.note
        )
        state: Literal["searchable", "pending"] = "pending" if ms is None else "searchable"
        return ResolveResponse(escalation=esc, knowledge_sources=sources, knowledge_state=state, searchable_ms=ms)

    def action_route(action: Action) -> Callable[..., Escalation]:
        def act(escalation_id: EscalationId, who: Staff, body: ActionRequest | None = None) -> Escalation:
            payload = {k: v for k, v in (body.model_dump() if body else {}).items() if v is not None}
            return desk.act(escalation_id, action.value, who.actor, **payload)

        return act

    # One route per action (not `/{action}`, which shadowed GET /escalations/{id}/audit for other methods).
    for action in Action:
        if action is not Action.RESOLVE and action not in CUSTOMER_ACTIONS:
            router.post(
                f"/escalations/{{escalation_id}}/{action.value}",
                response_model=Escalation,
                summary=f"{action.value.capitalize()} an escalation",
                operation_id=f"escalation_{action.value}",
            )(action_route(action))

    @router.post(
        "/escalations/{escalation_id}/self_serve",
        response_model=SelfServed,
        summary="A page solved it: the customer withdraws their own escalation (customer key)",
        description=(
            "Only with the customer key that raised the escalation, and only while nobody has started working it "
            "(escalated, claimed or bounced back). Any other escalation, unknown ids included, is 404; a started "
            "one is 409. A repeat returns the same result and records nothing."
        ),
        operation_id="escalation_self_serve",
    )
    def self_serve(
        escalation_id: EscalationId, body: SelfServeRequest, who: Annotated[Caller, Depends(customer_caller)]
    ) -> SelfServed:
        return self_served(*desk.self_serve(escalation_id, who.actor, body.page))

    @router.get("/escalations/{escalation_id}/audit", response_model=list[AuditEvent], summary="Audit trail")
    def escalation_audit(escalation_id: EscalationId, who: Staff) -> list[AuditEvent]:
        desk.get(escalation_id)  # 404 for an unknown id rather than an empty trail
        return desk.audit(escalation_id=escalation_id)

    @router.get("/audit", response_model=list[AuditEvent], summary="Audit events of an answer or an escalation")
    def audit(
        who: Staff,
        answer_id: Annotated[str | None, Query(max_length=100)] = None,
        escalation_id: Annotated[str | None, Query(max_length=100)] = None,
    ) -> list[AuditEvent]:
        return desk.audit(escalation_id=escalation_id, answer_id=answer_id)

    @router.get(
        "/audit/export",
        response_class=NdjsonResponse,
        summary="The whole audit log as JSONL (admin)",
        responses={200: {"content": {NDJSON: {"schema": {"type": "string"}}}, "description": "One event a line"}},
    )
    def export(who: Annotated[Caller, Depends(admin_caller)]) -> NdjsonResponse:
        import io

        buffer = io.StringIO()
        desk.export_audit(buffer)
        return NdjsonResponse(buffer.getvalue())

    @router.get("/jobs", summary="The service's background jobs and what they last did (admin)")
    def jobs(who: Annotated[Caller, Depends(admin_caller)]) -> list[dict[str, Any]]:
        return [job.status() for job in svc.jobs.values()]

    @router.get("/stats", summary="Escalation metrics from the stored data")
    def stats(
        who: Staff,
        since: Annotated[
            datetime | None, Query(description="Timezone-aware start of the window (ISO 8601), 1970 or later.")
        ] = None,
    ) -> dict[str, Any]:
        return stats_from_store(desk.store, desk.clock(), bounded_since(since)).model_dump(mode="json")

    return router


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def bounded_since(since: datetime | None) -> datetime | None:
    """A window start the store can compare: timezone-aware, in UTC, not before 1970 (extreme offsets on year 1 or
    9999 overflow when converted, which was a 500)."""
    if since is None:
        return None
    problem = [{"field": "since", "problem": "out_of_range"}]
    if since.tzinfo is None or since.utcoffset() is None:
        raise ValidationFailed("since must carry a timezone, e.g. 2026-01-01T00:00:00Z", problem)
    try:
        utc = since.astimezone(UTC)
    except (OverflowError, ValueError):
        raise ValidationFailed("since is out of range", problem) from None
    if utc < EPOCH:
        raise ValidationFailed("since must be 1970-01-01 or later", problem)
    return utc
