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
from gateway.identifiers import classify_identifier
from gateway.read_model import find_child_id
from gateway.reports.pdf import chromium_available
from gateway.reports.subject_access import UnknownChildError, audited_subject_access
from gateway.reports.subject_access_render import render_html, render_pdf
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
    return page(request, "subject_access.html", {"typed": {"format": "html"}})


FORMATS = ("html", "pdf", "json")


@router.post("/subject-access")
def subject_access_export(
    request: Request,
    *,
    who: Who,
    db: Db,
    identifier: Annotated[str, Form(max_length=40)] = "",
    export_format: Annotated[str, Form(alias="format", max_length=10)] = "html",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    """The export as a readable document (HTML or PDF) or JSON, found by the NHS number, UPN or
    child id the request gives (POSTed: identifiers stay out of URLs and logs)."""
    check_csrf(request, csrf)
    require_role(who, SUBJECT_ACCESS_ROLES)
    typed = {"identifier": identifier, "format": export_format}
    try:
        kind, value = classify_identifier(identifier)
    except ValueError as exc:
        return _subject_access_form(request, typed, {"identifier": str(exc)}, 400)
    if export_format not in FORMATS:
        errors = {"format": "Choose how you want the export: web page, PDF or JSON"}
        return _subject_access_form(request, typed, errors, 400)
    if export_format == "pdf" and not chromium_available():
        errors = {"format": "A PDF cannot be made here (no chromium): choose the web page"}
        return _subject_access_form(request, typed, errors, 503)
    child_id = find_child_id(db, **{kind: value})
    try:
        export = audited_subject_access(db, who, child_id or "")
    except PermissionError:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "Your role cannot use this page") from None
    except UnknownChildError:
        errors = {"identifier": "No child in the index has that NHS number, UPN or child id"}
        return _subject_access_form(request, typed, errors, 404)
    name = f"subject-access-{export['child_id']}"
    if export_format == "json":
        body: str | bytes = json.dumps(export, indent=2, ensure_ascii=False)
        media, name = "application/json", name + ".json"
    elif export_format == "pdf":
        body, media, name = render_pdf(export), "application/pdf", name + ".pdf"
    else:
        body, media, name = render_html(export), "text/html", name + ".html"
    headers = {"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"}
    return Response(body, media_type=media, headers=headers)


def _subject_access_form(
    request: Request, typed: dict[str, str], errors: dict[str, str], status_code: int
) -> Response:
    context = {"typed": typed, "errors": errors}
    return page(request, "subject_access.html", context, status_code=status_code)
