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
from gateway.lookup.caseload import BANDS
from gateway.policy.disclosure import Refusal
from gateway.policy.listings import CaseloadFilter, audited_caseload_page
from gateway.settings import settings
from gateway.web.render import CASELOAD_PURPOSE, agreements_of, database, signed_in
from gateway.web.render import page as page_response

router = APIRouter()
Who = Annotated[Actor, Depends(signed_in)]
Db = Annotated[Session, Depends(database)]
DEFAULT_UNSEEN_MONTHS = 6


AGENCY_CHOICES = ("education", "health", "social_care")


@router.get("/worklist", response_class=HTMLResponse)
def worklist(
    request: Request,
    who: Who,
    db: Db,
    *,
    months: Annotated[int, Query(ge=1, le=60)] = DEFAULT_UNSEEN_MONTHS,
    band: Annotated[str, Query(max_length=20)] = "",
    agency: Annotated[str, Query(max_length=20)] = "",
    unseen: bool = False,
    plan: bool = False,
    no_gp: bool = False,
    held: bool = False,
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
) -> Response:
    """The caseload by band, filtered and paged: one audit entry naming the children shown."""
    purpose = PURPOSES[CASELOAD_PURPOSE]
    filters = CaseloadFilter(
        band=band if band in BANDS else None,
        agency=agency if agency in AGENCY_CHOICES else None,
        unseen=unseen,
        plan=plan,
        no_gp=no_gp,
        held=held,
    )
    try:
        shown = audited_caseload_page(
            db,
            who,
            purpose,
            agreements=agreements_of(request),
            unseen_months=months,
            filters=filters,
            page=page,
            page_size=settings().caseload_page_size,
        )
    except Refusal:
        db.commit()  # the refusal is recorded
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, "Your role cannot see the EHE caseload"
        ) from None
    db.commit()  # the page is shown only once its audit entry is durable
    query = {
        "months": months,
        "band": filters.band or "",
        "agency": filters.agency or "",
        **{name: "true" for name in ("unseen", "plan", "no_gp", "held") if getattr(filters, name)},
    }
    context = {
        "shown": shown,
        "entries": shown.entries,
        "months": months,
        "filters": filters,
        "bands": BANDS,
        "agencies": AGENCY_CHOICES,
        "query": {k: v for k, v in query.items() if v != ""},
    }
    return page_response(request, "worklist.html", context)
