"""Pages for IG officers: the audit explorer (and the subject access export)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from gateway.access.audit import Actor, AuditEvent, append
from gateway.access.audit_search import AuditFilter, distinct_values, search_audit
from gateway.web.render import database, page, require_role, signed_in

router = APIRouter()
Who = Annotated[Actor, Depends(signed_in)]
Db = Annotated[Session, Depends(database)]
IG_ROLES = frozenset({"ig_officer"})
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
    }
    return page(request, "audit.html", context, status_code=400 if errors else 200)
