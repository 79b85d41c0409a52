"""Pages for IG officers: the audit explorer and the subject access export."""

from __future__ import annotations

import json
from datetime import date
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request, status
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from gateway.access.audit import Actor, AuditEvent, append
from gateway.access.audit_search import AuditFilter, distinct_values, search_audit
from gateway.access.roles import IG_ROLES, SUBJECT_ACCESS_ROLES
from gateway.reports.subject_access import UnknownChildError, audited_subject_access
from gateway.web.render import check_csrf, database, page, require_role, signed_in

router = APIRouter()
Who = Annotated[Actor, Depends(signed_in)]
Db = Annotated[Session, Depends(database)]
PAGE_SIZE = 100


def _day(text: str | None) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None


@router.get("/audit", response_class=HTMLResponse)
def audit_explorer(
    request: Request,
    *,
    who: Who,
    db: Db,
    start: Annotated[str | None, Query(alias="from")] = None,
    end: Annotated[str | None, Query(alias="to")] = None,
    user: str | None = None,
    organisation: str | None = None,
    outcome: str | None = None,
    page_number: Annotated[int, Query(alias="page", ge=1)] = 1,
) -> Response:
    require_role(who, IG_ROLES)
    errors = {
        name: "Enter a date like 2026-11-29"
        for name, text in (("from", start), ("to", end))
        if text and _day(text) is None
    }
    wanted = AuditFilter(
        _day(start), _day(end), user or None, organisation or None, outcome or None
    )
    choices = distinct_values(db)
    total, entries = search_audit(db, wanted, limit=PAGE_SIZE, offset=(page_number - 1) * PAGE_SIZE)
    append(db, AuditEvent(actor=who, action="audit_query", outcome="viewed"))
    db.commit()
    context = {
        "entries": entries,
        "total": total,
        "wanted": wanted,
        "raw": {"from": start or "", "to": end or ""},
        "choices": choices,
        "errors": errors,
        "page_number": page_number,
        "pages": max(1, -(-total // PAGE_SIZE)),
        "next_query": urlencode({**request.query_params, "page": page_number + 1}),
    }
    return page(request, "audit.html", context, status_code=400 if errors else 200)


@router.get("/subject-access", response_class=HTMLResponse)
def subject_access_form(request: Request, who: Who) -> Response:
    require_role(who, SUBJECT_ACCESS_ROLES)
    return page(request, "subject_access.html")


@router.post("/subject-access")
def subject_access_export(
    request: Request,
    *,
    who: Who,
    db: Db,
    child_id: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    """The export as a JSON download (POSTed: the child id stays out of URLs and logs)."""
    check_csrf(request, csrf)
    if not child_id.strip():
        errors = {"child_id": "Enter the child id from the index"}
        return page(request, "subject_access.html", {"errors": errors}, status_code=400)
    try:
        export = audited_subject_access(db, who, child_id.strip())
    except PermissionError:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "Your role cannot use this page") from None
    except UnknownChildError:
        errors = {"child_id": "No child in the index has that id"}
        return page(request, "subject_access.html", {"errors": errors}, status_code=404)
    body = json.dumps(export, indent=2, ensure_ascii=False)
    disposition = f'attachment; filename="subject-access-{export["child_id"]}.json"'
    return Response(
        body,
        media_type="application/json",
        headers={"Content-Disposition": disposition, "Cache-Control": "no-store"},
    )
