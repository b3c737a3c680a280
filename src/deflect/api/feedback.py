"""Feedback on answers: customers and agents say whether an answer helped (POST /v1/answers/{id}/feedback)."""

# No `from __future__ import annotations`: FastAPI resolves `Depends(caller)` from a name local to the factory.

from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr

from deflect.api.auth import Caller, CallerDependency
from deflect.feedback import FeedbackDesk
from deflect.feedback.desk import MAX_COMMENT, MAX_SOURCE_ID


class FeedbackRequest(BaseModel):
    """Body of a vote. Who votes comes from the API key (and X-Actor), never from here."""

    model_config = ConfigDict(extra="forbid")

    helpful: StrictBool = Field(description="Did the answer solve the problem?")
    comment: StrictStr | None = Field(None, max_length=MAX_COMMENT, description="Free text; scrubbed of PII.")
    correct_source: StrictStr | None = Field(
        None, min_length=1, max_length=MAX_SOURCE_ID, description="The source id that does answer it, if known."
    )


class FeedbackResponse(BaseModel):
    id: str
    answer_id: str
    helpful: bool
    offer_escalation: bool = Field(description="The widget should offer a hand-off to a human.")


def feedback_router(feedback_desk: FeedbackDesk, caller_dependency: CallerDependency) -> APIRouter:
    """The feedback route over a FeedbackDesk; customer, agent and admin keys may vote."""
    router = APIRouter(prefix="/v1", tags=["feedback"])

    @router.post(
        "/answers/{answer_id}/feedback",
        response_model=FeedbackResponse,
        status_code=201,
        summary="Say whether an answer helped; an unhelpful customer answer offers escalation",
    )
    def give_feedback(
        answer_id: str, body: FeedbackRequest, who: Annotated[Caller, Depends(caller_dependency)]
    ) -> FeedbackResponse:
        result = feedback_desk.record(
            answer_id, body.helpful, body.comment, body.correct_source, who.role.value, who.actor
        )
        return FeedbackResponse(
            id=result.record.id,
            answer_id=answer_id,
            helpful=result.record.helpful,
            offer_escalation=result.offer_escalation,
        )

    return router
