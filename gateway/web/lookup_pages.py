"""Find a child: identifier (POSTed, never in a URL), then purpose, then the minimised summary."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from gateway.access.audit import Actor
from gateway.access.purposes import PURPOSES
from gateway.lookup.audited import LOOKUP_ROLES, LookupRefused, audited_summary, classify_identifier
from gateway.web.render import check_csrf, database, page, require_role, signed_in

router = APIRouter()
Who = Annotated[Actor, Depends(signed_in)]


@router.get("/search", response_class=HTMLResponse)
def search_form(request: Request, who: Who) -> Response:
    require_role(who, LOOKUP_ROLES)
    return page(request, "search.html")


@router.post("/search", response_class=HTMLResponse)
def search_submit(
    request: Request,
    *,
    who: Who,
    identifier: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(request, csrf)
    require_role(who, LOOKUP_ROLES)
    try:
        classify_identifier(identifier)
    except ValueError as exc:
        errors = {"identifier": str(exc)}
        return page(
            request, "search.html", {"errors": errors, "typed": identifier}, status_code=400
        )
    return page(request, "purpose.html", {"identifier": identifier, "purposes": PURPOSES.values()})


@router.post("/summary", response_class=HTMLResponse)
def summary_submit(
    request: Request,
    *,
    who: Who,
    db: Annotated[Session, Depends(database)],
    identifier: Annotated[str, Form()] = "",
    purpose: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(request, csrf)
    try:
        summary = audited_summary(db, who, purpose or None, identifier)
    except LookupRefused as refused:
        if refused.outcome == "no_purpose":
            context = {
                "identifier": identifier,
                "purposes": PURPOSES.values(),
                "errors": {"purpose": refused.message},
            }
            return page(request, "purpose.html", context, status_code=400)
        code = (
            404
            if refused.outcome == "not_found"
            else 403
            if refused.outcome == "refused_role"
            else 400
        )
        return page(
            request, "refused.html", {"message": refused.message, "audited": True}, status_code=code
        )
    return page(request, "summary.html", {"summary": summary, "purpose": PURPOSES[purpose]})
