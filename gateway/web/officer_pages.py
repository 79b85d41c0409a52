"""Pages for EHE officers beyond a single lookup: the caseload worklist (the review queue is
``review_pages``).

The worklist is the API's caseload (``gateway.policy.listings.audited_caseload``: the same
decision, minimising and audit entry), shown to whom an agreement in force lets see it for an
EHE enquiry; a refusal is audited with its reason.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request, status
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from gateway.access.audit import Actor
from gateway.access.purposes import PURPOSES
from gateway.policy.disclosure import Refusal
from gateway.policy.listings import audited_caseload
from gateway.web.render import CASELOAD_PURPOSE, agreements_of, database, page, signed_in

router = APIRouter()
Who = Annotated[Actor, Depends(signed_in)]
Db = Annotated[Session, Depends(database)]
DEFAULT_UNSEEN_MONTHS = 6


@router.get("/worklist", response_class=HTMLResponse)
def worklist(
    request: Request,
    who: Who,
    db: Db,
    months: Annotated[int, Query(ge=1, le=60)] = DEFAULT_UNSEEN_MONTHS,
) -> Response:
    purpose = PURPOSES[CASELOAD_PURPOSE]
    try:
        entries = audited_caseload(
            db, who, purpose, agreements=agreements_of(request), unseen_months=months
        )
    except Refusal:
        db.commit()  # the refusal is recorded
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, "Your role cannot see the EHE caseload"
        ) from None
    db.commit()  # the page is shown only once its audit entry is durable
    flagged = sum(1 for e in entries if e.reasons or e.restricted)
    context = {"entries": entries, "months": months, "flagged": flagged}
    return page(request, "worklist.html", context)
