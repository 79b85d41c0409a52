"""Pages for EHE officers beyond a single lookup: the caseload worklist and the review queue."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request, status
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.access.audit import Actor
from gateway.lookup.worklist import DEFAULT_NOT_SEEN_MONTHS, audited_worklist
from gateway.store.tables import LinkReview
from gateway.web.render import database, page, require_role, signed_in

router = APIRouter()
Who = Annotated[Actor, Depends(signed_in)]
Db = Annotated[Session, Depends(database)]
REVIEW_ROLES = frozenset({"ehe_officer", "data_engineer", "ig_officer", "admin"})


@router.get("/worklist", response_class=HTMLResponse)
def worklist(
    request: Request,
    who: Who,
    db: Db,
    months: Annotated[int, Query(ge=1, le=60)] = DEFAULT_NOT_SEEN_MONTHS,
) -> Response:
    try:
        entries = audited_worklist(db, who, not_seen_months=months)
    except PermissionError:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, "Your role cannot see the EHE caseload"
        ) from None
    flagged = sum(1 for e in entries if e.concerns)
    return page(
        request, "worklist.html", {"entries": entries, "months": months, "flagged": flagged}
    )


@router.get("/reviews", response_class=HTMLResponse)
def reviews(request: Request, who: Who, db: Db) -> Response:
    require_role(who, REVIEW_ROLES)
    query = select(LinkReview).where(LinkReview.status == "open")
    rows = list(db.scalars(query.order_by(LinkReview.probability.desc(), LinkReview.id).limit(500)))
    return page(request, "reviews.html", {"reviews": rows})
