"""IG officers' report pages: break-glass uses and the data-sharing report for a period."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from gateway.access.audit import Actor, AuditEvent, append
from gateway.access.break_glass import BreakGlassRefusedError, close_review
from gateway.access.roles import IG_ROLES
from gateway.reports.sharing import BreakGlassUse, break_glass_uses, build_sharing_report
from gateway.reports.sharing_render import render_html
from gateway.web.render import check_csrf, database, page, require_role, signed_in

router = APIRouter()
Who = Annotated[Actor, Depends(signed_in)]
Db = Annotated[Session, Depends(database)]
MAX_ID = 2**31 - 1
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


def _review_list(
    request: Request, db: Session, errors: dict[str, str] | None = None, *, status_code: int = 200
) -> Response:
    uses = break_glass_uses(db)
    uses.sort(key=lambda u: (u.review_state != "open", -u.id))
    context: dict[str, list[BreakGlassUse] | dict[str, str]] = {"uses": uses}
    if errors:
        context["errors"] = errors
    return page(request, "break_glass.html", context, status_code=status_code)


@router.get("/break-glass", response_class=HTMLResponse)
def break_glass(request: Request, who: Who, db: Db) -> Response:
    """Every break-glass override (the access policy's own list), open reviews first."""
    require_role(who, IG_ROLES)
    append(db, AuditEvent(actor=who, action="audit_query", outcome="viewed"))
    db.commit()
    return _review_list(request, db)


@router.post("/break-glass/{override_id}/close", response_class=HTMLResponse)
def close_break_glass(
    request: Request,
    *,
    who: Who,
    db: Db,
    override_id: Annotated[int, Path(ge=1, le=MAX_ID)],
    note: Annotated[str, Form(max_length=2000)] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    """An IG officer closes one override's review with what the review found (as the API)."""
    check_csrf(request, csrf)
    require_role(who, IG_ROLES)
    try:
        override = close_review(db, override_id, who, note)
    except BreakGlassRefusedError as exc:
        db.rollback()
        return _review_list(request, db, {f"note-{override_id}": exc.reason}, status_code=400)
    append(
        db,
        AuditEvent(
            actor=who,
            action="break_glass_review",
            outcome="recorded",
            purpose=override.purpose,
            child_id=override.child_id,
        ),
    )
    db.commit()
    return RedirectResponse("/break-glass", status_code=303)


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
