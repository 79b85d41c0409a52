"""``/api/v1/search`` and ``/api/v1/caseload``: find a child; the EHE worklist. Both audited.

No ``from __future__ import annotations``: FastAPI reads the annotations at runtime.
"""

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request, status
from pydantic import Field
from sqlalchemy.orm import Session

from gateway.access.agreements import SharingDecision, decide
from gateway.access.audit import Actor, AuditEvent, append
from gateway.access.purposes import Purpose
from gateway.api.deps import COMMON_RESPONSES, database, rate_limited
from gateway.api.lookup import stated_purpose
from gateway.lookup.caseload import CaseloadEntry, SharedFacts, ehe_caseload
from gateway.lookup.search import Candidate, Demographics, search_children

router = APIRouter(prefix="/api/v1", responses=COMMON_RESPONSES)
Who = Annotated[Actor, Depends(rate_limited)]
Db = Annotated[Session, Depends(database)]


class SearchRequest(Demographics):
    purpose: str | None = Field(None, max_length=60)


def _allowed(
    request: Request, db: Session, who: Actor, purpose: Purpose, action: str
) -> SharingDecision:
    """The agreement clause covering this actor and purpose; refused (and audited) if none."""
    decision = decide(request.app.state.agreements, who, purpose.code, datetime.now(UTC).date())
    if not decision.allowed:
        append(
            db,
            AuditEvent(
                actor=who,
                action=action,
                outcome="refused",
                purpose=purpose.code,
                lawful_basis=purpose.lawful_basis,
                reason=decision.reason,
            ),
        )
        db.commit()
        raise HTTPException(status.HTTP_403_FORBIDDEN, decision.reason)
    return decision


@router.post(
    "/search",
    response_model=list[Candidate],
    responses={403: {"description": "refused (and audited), with the reason"}},
)
def search(body: SearchRequest, request: Request, who: Who, db: Db) -> list[Candidate]:
    """Children who may be the one described, ranked, with why each matched (POST only)."""
    purpose = stated_purpose(db, who, body.purpose, "search")
    decision = _allowed(request, db, who, purpose, "search")
    candidates = search_children(db, body)
    append(
        db,
        AuditEvent(
            actor=who,
            action="search",
            outcome="candidates" if candidates else "no_match",
            purpose=purpose.code,
            lawful_basis=purpose.lawful_basis,
            agreement_clause=decision.clause_ref,
            fields_disclosed=[f"candidate:{c.child_id}" for c in candidates],
        ),
    )
    db.commit()
    return candidates


@router.get(
    "/caseload",
    response_model=list[CaseloadEntry],
    responses={403: {"description": "refused (and audited), with the reason"}},
)
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
    decision = _allowed(request, db, who, stated, "caseload")
    today = datetime.now(UTC).date()
    shared = SharedFacts(sources=decision.sources, fields=decision.fields)
    entries = ehe_caseload(db, today=today, unseen_months=unseen_months, limit=limit, shared=shared)
    append(
        db,
        AuditEvent(
            actor=who,
            action="caseload",
            outcome="disclosed",
            purpose=stated.code,
            lawful_basis=stated.lawful_basis,
            agreement_clause=decision.clause_ref,
            fields_disclosed=list(CaseloadEntry.model_fields),
            reason=f"{len(entries)} children listed",
        ),
    )
    db.commit()
    return entries
