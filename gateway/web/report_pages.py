"""IG officers' report pages: break-glass uses and the data-sharing report for a period."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path as FilePath
from tempfile import TemporaryDirectory
from typing import Annotated

from fastapi import APIRouter, Depends, Form, HTTPException, Path, Query, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from gateway import clock
from gateway.access.audit import Actor, AuditEvent, append
from gateway.access.break_glass import BreakGlassRefusedError, close_review, lookups_under
from gateway.access.roles import IG_ROLES
from gateway.reports.pdf import chromium_available
from gateway.reports.sharing import break_glass_uses, build_sharing_report
from gateway.reports.sharing_render import report_context, write_report
from gateway.web.date_input import TypedDate, read_period, typed_period
from gateway.web.render import check_csrf, database, page, require_role, signed_in

router = APIRouter()
Who = Annotated[Actor, Depends(signed_in)]
Db = Annotated[Session, Depends(database)]
MAX_ID = 2**31 - 1


def _period(request: Request) -> tuple[date, date, dict[str, str], dict[str, TypedDate], bool]:
    """The period asked for in GOV.UK date boxes (default: the last 30 days), a message per
    bad or missing date, what was typed, and whether a period was asked for at all."""
    today = clock.today()
    typed = typed_period(request.query_params)
    asked = not all(t.empty for t in typed.values())
    if not asked:
        defaults = {"from": today - timedelta(days=29), "to": today}
        return defaults["from"], today, {}, {k: TypedDate.of(v) for k, v in defaults.items()}, False
    first, last, errors = read_period(typed, today)
    for name, label in (("from", "the start date"), ("to", "the end date")):
        if typed[name].empty:
            errors[name] = f"Enter {label}"
    if errors or first is None or last is None:
        return today, today, errors, typed, True
    return first, last, errors, typed, True


def _review_list(
    request: Request,
    db: Session,
    errors: dict[str, str] | None = None,
    *,
    status_code: int = 200,
    closed: int | None = None,
    typed: dict[str, str] | None = None,
) -> Response:
    uses = break_glass_uses(db)
    uses.sort(key=lambda u: (u.review_state != "open", -u.id))
    context: dict[str, object] = {
        "uses": uses,
        "lookups": lookups_under(db, [u.id for u in uses]),
        "closed": closed,
        "typed": typed or {},
    }
    if errors:
        context["errors"] = errors
    return page(request, "break_glass.html", context, status_code=status_code)


@router.get("/break-glass", response_class=HTMLResponse)
def break_glass(
    request: Request,
    who: Who,
    db: Db,
    closed: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
) -> Response:
    """Every break-glass override (the access policy's own list), open reviews first, each with
    the lookups made under it; after a review is closed, a success banner names it."""
    require_role(who, IG_ROLES)
    append(db, AuditEvent(actor=who, action="audit_query", outcome="viewed"))
    db.commit()
    return _review_list(request, db, closed=closed)


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
        message = exc.reason[:1].upper() + exc.reason[1:]
        typed = {f"note-{override_id}": note}
        return _review_list(
            request, db, {f"note-{override_id}": message}, status_code=400, typed=typed
        )
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
    return RedirectResponse(f"/break-glass?closed={override_id}", status_code=303)


@router.get("/reports/sharing", response_class=HTMLResponse)
def sharing_report(request: Request, who: Who, db: Db) -> Response:
    """The form; with a valid period, the report inside the service, with its downloads."""
    require_role(who, IG_ROLES)
    first, last, errors, typed, asked = _period(request)
    if errors or not asked:
        context = {"errors": errors, "typed": typed}
        return page(request, "sharing_form.html", context, status_code=400 if errors else 200)
    report = build_sharing_report(db, first, last)
    append(db, AuditEvent(actor=who, action="report_sharing", outcome="viewed"))
    db.commit()
    query = request.url.query
    context = {
        **report_context(report, with_files=False, csv_link=f"/reports/sharing/csv?{query}"),
        "query": query,
        "typed": typed,
    }
    return page(request, "sharing_report.html", context)


DOWNLOADS = {"html": "text/html", "csv": "text/csv", "pdf": "application/pdf"}


@router.get("/reports/sharing/{kind}")
def sharing_download(
    request: Request, who: Who, db: Db, kind: Annotated[str, Path(pattern="^(html|csv|pdf)$")]
) -> Response:
    """The report for the period as a file: the standalone HTML page, the CSV of disclosures,
    or the PDF (the HTML printed by chromium, with page numbers and a running title)."""
    require_role(who, IG_ROLES)
    first, last, errors, _typed, asked = _period(request)
    if errors or not asked:
        return RedirectResponse(f"/reports/sharing?{request.url.query}", status_code=303)
    report = build_sharing_report(db, first, last)
    if kind == "pdf" and not chromium_available():
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            "The PDF cannot be made here: chromium is not installed. "
            "Download the HTML and print it",
        )
    with TemporaryDirectory(prefix="sharing-") as folder:
        files = write_report(report, FilePath(folder), pdf=kind == "pdf")
        wanted = {"html": "sharing.html", "csv": "disclosures.csv", "pdf": "sharing.pdf"}[kind]
        body = next(f for f in files if f.name == wanted).read_bytes()
    append(db, AuditEvent(actor=who, action="report_sharing", outcome="exported"))
    db.commit()
    name = f"sharing-{first.isoformat()}-to-{last.isoformat()}.{kind}"
    headers = {"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"}
    return Response(body, media_type=DOWNLOADS[kind], headers=headers)
