"""``/api/v1/search`` and ``/api/v1/caseload``: find a child; the EHE worklist. Both audited.

No ``from __future__ import annotations``: FastAPI reads the annotations at runtime.
"""

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request, status
from pydantic import Field
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from gateway.access.agreements import Agreement
from gateway.access.audit import Actor
from gateway.api.deps import COMMON_RESPONSES, database, rate_limited
from gateway.api.lookup import stated_purpose
from gateway.lookup.caseload import CaseloadEntry
from gateway.lookup.search import Candidate, Demographics
from gateway.policy.disclosure import Refusal
from gateway.policy.listings import audited_caseload, audited_search

router = APIRouter(prefix="/api/v1", responses=COMMON_RESPONSES)
Who = Annotated[Actor, Depends(rate_limited)]
Db = Annotated[Session, Depends(database)]


class SearchRequest(Demographics):
    purpose: str | None = Field(None, max_length=60)


@router.post("/search", response_model=list[Candidate])
async def search(body: SearchRequest, request: Request, who: Who) -> list[Candidate]:
    """Children who may be the one described, ranked, with why each matched (POST only)."""
    state = request.app.state
    # The session and all the database work on one worker thread (one hop, no more); the
    # answer is serialised back on the event loop.
    return await run_in_threadpool(_search, body, who, state.sessions, state.agreements)


def _search(
    body: SearchRequest, who: Actor, sessions: sessionmaker[Session], agreements: list[Agreement]
) -> list[Candidate]:
    with sessions() as db:
        return _search_in(db, body, who, agreements)


def _search_in(
    db: Session, body: SearchRequest, who: Actor, agreements: list[Agreement]
) -> list[Candidate]:
    purpose = stated_purpose(db, who, body.purpose, "search")
    try:
        found = audited_search(db, who, purpose, body, agreements=agreements)
    except Refusal as refusal:
        db.commit()
        raise HTTPException(status.HTTP_403_FORBIDDEN, refusal.reason) from None
    db.commit()
    return found


@router.get("/caseload", response_model=list[CaseloadEntry])
def caseload(
    request: Request,
    *,
    who: Who,
    db: Db,
    purpose: Annotated[str, Query(max_length=60)] = "ehe_enquiry",
    unseen_months: Annotated[int, Query(ge=1, le=120)] = 6,
    limit: Annotated[int, Query(ge=1, le=5000)] = 500,
) -> list[CaseloadEntry]:
    """Children home educated or removed from roll to it: most concerning first, with why."""
    stated = stated_purpose(db, who, purpose, "caseload")
    try:
        entries = audited_caseload(
            db,
            who,
            stated,
            agreements=request.app.state.agreements,
            unseen_months=unseen_months,
            limit=limit,
        )
    except Refusal as refusal:
        db.commit()
        raise HTTPException(status.HTTP_403_FORBIDDEN, refusal.reason) from None
    db.commit()
    return entries
