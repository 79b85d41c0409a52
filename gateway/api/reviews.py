"""``/api/v1/reviews``: the review queue of possible matches, ranked, explained and decided.

Who may do what is ``gateway.access.roles``: the queue roles see the ranked list (no values);
data engineers and administrators open a pair (both records' values, audited) and accept,
reject or reopen it. Decisions are MANUAL (the matcher never changes them) and audited in the
transaction that makes them. The review id is the only id in a URL.

No ``from __future__ import annotations``: FastAPI reads the annotations at runtime.
"""

from collections.abc import Callable
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, status
from pydantic import BaseModel, Field, StringConstraints
from sqlalchemy.orm import Session, sessionmaker

from gateway.access.audit import Actor
from gateway.access.roles import REVIEW_DECISION_ROLES, REVIEW_QUEUE_ROLES
from gateway.api.deps import COMMON_RESPONSES, rate_limited
from gateway.linkage.review import ReviewError, UnknownReviewError
from gateway.policy.review_pairs import (
    Decision,
    DecisionOut,
    ReviewDetailOut,
    ReviewOut,
    decide,
    review_queue,
    review_view,
)

router = APIRouter(prefix="/api/v1/reviews", responses=COMMON_RESPONSES)
MAX_ID = 2**31 - 1  # ids are 32-bit integers on PostgreSQL
ReviewId = Annotated[int, Path(ge=1, le=MAX_ID)]
DECISION_RESPONSES: dict[int | str, dict[str, object]] = {
    404: {"description": "no review has that id"},
    409: {"description": "the decision cannot be made (already decided, two NHS numbers)"},
}


def _roles(allowed: frozenset[str]) -> Callable[[Actor], Actor]:
    def checked(who: Annotated[Actor, Depends(rate_limited)]) -> Actor:
        if who.role not in allowed:
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                f"this needs one of the roles: {', '.join(sorted(allowed))}",
            )
        return who

    return checked


QueueReader = Annotated[Actor, Depends(_roles(REVIEW_QUEUE_ROLES))]
Reviewer = Annotated[Actor, Depends(_roles(REVIEW_DECISION_ROLES))]


class DecisionRequest(BaseModel):
    reason: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=3, max_length=500)
    ] = Field(description="Why: kept with the decision and in the link history")


def index_url_of(request: Request) -> str:
    """The URL of the index the app reads (the review functions open their own sessions)."""
    sessions: sessionmaker[Session] = request.app.state.sessions
    return str(sessions.kw["bind"].url.render_as_string(hide_password=False))


@router.get("", response_model=list[ReviewOut])
def reviews(
    request: Request,
    who: QueueReader,
    state: Annotated[Literal["open", "accepted", "rejected", "all"], Query()] = "open",
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[ReviewOut]:
    """Possible matches, those touching a child known to social care or home educated first,
    then the strongest; each with its match weights (no names, dates or addresses)."""
    return review_queue(index_url_of(request), who, state, limit)


@router.get("/{review_id}", response_model=ReviewDetailOut, responses=DECISION_RESPONSES)
def review(request: Request, review_id: ReviewId, who: Reviewer) -> ReviewDetailOut:
    """Both records field by field with each field's match weight, and the waterfall of
    weights from the prior to the final score, each explained (values shown are audited)."""
    try:
        return review_view(index_url_of(request), who, review_id)
    except UnknownReviewError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from None


def _decided(
    request: Request, who: Actor, review_id: int, decision: Decision, reason: str
) -> DecisionOut:
    try:
        return decide(index_url_of(request), who, review_id, decision, reason)
    except UnknownReviewError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from None
    except ReviewError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None


@router.post("/{review_id}/accept", response_model=DecisionOut, responses=DECISION_RESPONSES)
def accept_review(
    request: Request, review_id: ReviewId, body: DecisionRequest, who: Reviewer
) -> DecisionOut:
    """The two records are one child: their children are joined (the older id survives)."""
    return _decided(request, who, review_id, "accept", body.reason)


@router.post("/{review_id}/reject", response_model=DecisionOut, responses=DECISION_RESPONSES)
def reject_review(
    request: Request, review_id: ReviewId, body: DecisionRequest, who: Reviewer
) -> DecisionOut:
    """The two records are two children: linkage never puts them together again."""
    return _decided(request, who, review_id, "reject", body.reason)


@router.post("/{review_id}/reopen", response_model=DecisionOut, responses=DECISION_RESPONSES)
def reopen_review(
    request: Request, review_id: ReviewId, body: DecisionRequest, who: Reviewer
) -> DecisionOut:
    """Undo a decision (an accepted pair is unlinked again); the review is open again."""
    return _decided(request, who, review_id, "reopen", body.reason)
