"""Pages for IG officers: the audit explorer and the subject access export."""

from __future__ import annotations

import json
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request, status
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from gateway import clock
from gateway.access.audit import Actor, AuditEvent, append
from gateway.access.audit_search import AuditFilter, distinct_values, search_audit
from gateway.access.roles import IG_ROLES, SUBJECT_ACCESS_ROLES
from gateway.reports.subject_access import UnknownChildError, audited_subject_access
from gateway.web.date_input import read_period, typed_period
from gateway.web.render import check_csrf, database, page, require_role, signed_in

router = APIRouter()
Who = Annotated[Actor, Depends(signed_in)]
Db = Annotated[Session, Depends(database)]
PAGE_SIZE = 100


FILTERS = ("child", "user", "organisation", "action", "purpose", "outcome")


@router.get("/audit", response_class=HTMLResponse)
def audit_explorer(
    request: Request,
    *,
    who: Who,
    db: Db,
    page_number: Annotated[int, Query(alias="page", ge=1, le=1_000_000)] = 1,
) -> Response:
    """The audit log, newest first, filtered by period, child, person, action, purpose and
    outcome (the choices in words), a page at a time both ways."""
    require_role(who, IG_ROLES)
    params = request.query_params
    typed = typed_period(params)
    first, last, errors = read_period(typed, clock.today())
    chosen = {name: (params.get(name) or "").strip()[:80] for name in FILTERS}
    wanted = AuditFilter(
        first,
        last,
        chosen["user"] or None,
        chosen["organisation"] or None,
        chosen["outcome"] or None,
        chosen["child"] or None,
        chosen["action"] or None,
        chosen["purpose"] or None,
    )
    choices = distinct_values(db)
    total, entries = search_audit(db, wanted, limit=PAGE_SIZE, offset=(page_number - 1) * PAGE_SIZE)
    append(db, AuditEvent(actor=who, action="audit_query", outcome="viewed"))
    db.commit()
    pages = max(1, -(-total // PAGE_SIZE))
    kept = [(k, v) for k, v in params.multi_items() if k != "page" and v]
    context = {
        "entries": entries,
        "total": total,
        "typed": typed,
        "chosen": chosen,
        "choices": choices,
        "errors": errors,
        "page_number": page_number,
        "pages": pages,
        "previous_query": urlencode([*kept, ("page", page_number - 1)]),
        "next_query": urlencode([*kept, ("page", page_number + 1)]),
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
