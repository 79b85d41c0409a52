"""Pages for EHE officers beyond a single lookup: the caseload worklist (the review queue is
``review_pages``).

The worklist is ``gateway.lookup.caseload.ehe_caseload``, the API's caseload, shown to whom an
agreement in force lets see it for an EHE enquiry (the API's decision too). Each child listed
gets an audit entry naming the agreement clause; a refusal is audited with its reason.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request, status
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from gateway.access.audit import Actor, AuditEvent, append
from gateway.access.purposes import PURPOSES
from gateway.lookup.caseload import CaseloadEntry, SharedFacts, ehe_caseload
from gateway.web.render import (
    CASELOAD_PURPOSE,
    caseload_decision,
    database,
    page,
    signed_in,
)

router = APIRouter()
Who = Annotated[Actor, Depends(signed_in)]
Db = Annotated[Session, Depends(database)]
DEFAULT_UNSEEN_MONTHS = 6
CASELOAD_FIELDS = list(CaseloadEntry.model_fields)


@router.get("/worklist", response_class=HTMLResponse)
def worklist(
    request: Request,
    who: Who,
    db: Db,
    months: Annotated[int, Query(ge=1, le=60)] = DEFAULT_UNSEEN_MONTHS,
) -> Response:
    purpose = PURPOSES[CASELOAD_PURPOSE]
    decision = caseload_decision(request, who)
    if not decision.allowed:
        refusal = AuditEvent(who, "caseload", "refused", purpose.code, reason=decision.reason)
        append(db, refusal)
        db.commit()
        raise HTTPException(status.HTTP_403_FORBIDDEN, "Your role cannot see the EHE caseload")
    shared = SharedFacts(sources=decision.sources, fields=decision.fields)
    entries = ehe_caseload(db, today=datetime.now(UTC).date(), unseen_months=months, shared=shared)
    for entry in entries:
        append(
            db,
            AuditEvent(
                who,
                "caseload",
                "disclosed",
                purpose.code,
                lawful_basis=purpose.lawful_basis,
                agreement_clause=decision.clause_ref,
                child_id=entry.child_id,
                fields_disclosed=CASELOAD_FIELDS,
            ),
        )
    db.commit()
    flagged = sum(1 for e in entries if e.reasons)
    context = {"entries": entries, "months": months, "flagged": flagged}
    return page(request, "worklist.html", context)
