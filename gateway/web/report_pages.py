"""IG officers' report pages: break-glass uses and the data-sharing report for a period."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from gateway.access.audit import Actor, AuditEvent, append
from gateway.access.audit_search import AuditFilter, entries
from gateway.reports.sharing import break_glass_uses, build_sharing_report
from gateway.reports.sharing_render import render_html
from gateway.web.render import database, page, require_role, signed_in

router = APIRouter()
Who = Annotated[Actor, Depends(signed_in)]
Db = Annotated[Session, Depends(database)]
IG_ROLES = frozenset({"ig_officer"})
DATE_ERROR = "Enter a date like 2026-11-29"


def _period(start: str | None, end: str | None) -> tuple[date, date, dict[str, str]]:
    """The period asked for (default: the last 30 days) and an error per bad date."""
    today = datetime.now(UTC).date()
    errors: dict[str, str] = {}
    days: dict[str, date] = {"from": today - timedelta(days=29), "to": today}
    for name, text in (("from", start), ("to", end)):
        if not text:
            continue
        try:
            days[name] = date.fromisoformat(text)
        except ValueError:
            errors[name] = DATE_ERROR
    if not errors and days["to"] < days["from"]:
        errors["to"] = "The end date must be on or after the start date"
    return days["from"], days["to"], errors


@router.get("/break-glass", response_class=HTMLResponse)
def break_glass(request: Request, who: Who, db: Db) -> Response:
    """Every break-glass use in the audit log, open ones first (closing them: the access policy)."""
    require_role(who, IG_ROLES)
    uses = break_glass_uses(db, entries(db, AuditFilter()))
    uses.sort(key=lambda u: (u.review_state != "open", -u.seq))
    append(db, AuditEvent(actor=who, action="audit_query", outcome="viewed"))
    db.commit()
    return page(request, "break_glass.html", {"uses": uses})


@router.get("/reports/sharing", response_class=HTMLResponse)
def sharing_report(
    request: Request,
    who: Who,
    db: Db,
    start: Annotated[str | None, Query(alias="from")] = None,
    end: Annotated[str | None, Query(alias="to")] = None,
) -> Response:
    """The form; with a valid period, the report itself (the same HTML as the command's)."""
    require_role(who, IG_ROLES)
    first, last, errors = _period(start, end)
    if errors or start is None:
        context = {"errors": errors, "raw": {"from": start or first, "to": end or last}}
        return page(request, "sharing_form.html", context, status_code=400 if errors else 200)
    report = build_sharing_report(db, first, last)
    append(db, AuditEvent(actor=who, action="report_sharing", outcome="viewed"))
    db.commit()
    return HTMLResponse(render_html(report, with_files=False))
