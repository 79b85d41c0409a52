"""The partnership assurance report as a page of the service, for IG officers and partnership
leads (``ASSURANCE_ROLES``), with HTML, PDF and CSV downloads; every view and export audited.

Counts only, suppressed as in the files (``gateway.reports.assurance``): nothing on the page
names or singles out a child.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path as FilePath
from tempfile import TemporaryDirectory
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from gateway import clock
from gateway.access.audit import Actor, AuditEvent, append
from gateway.access.roles import ASSURANCE_ROLES
from gateway.reports.assurance import AssuranceReport, build_assurance_report
from gateway.reports.assurance_render import FILES, report_context, write_report
from gateway.reports.pdf import chromium_available
from gateway.web.render import database, page, require_role, signed_in
from gateway.web.report_pages import DOWNLOADS, _period

router = APIRouter()
Who = Annotated[Actor, Depends(signed_in)]
Db = Annotated[Session, Depends(database)]
ACTION = "report_assurance"


def _report(db: Session, request: Request) -> tuple[AssuranceReport | None, dict[str, object]]:
    """The report for the period asked for, or None with the form's context."""
    first, last, errors, typed, asked = _period(request)
    if errors or not asked:
        return None, {"errors": errors, "typed": typed}
    report = build_assurance_report(db, first, last, today=clock.today(), now=datetime.now(UTC))
    return report, {"typed": typed}


@router.get("/reports/assurance", response_class=HTMLResponse)
def assurance_report(request: Request, who: Who, db: Db) -> Response:
    """The form; with a valid period, the report inside the service, with its downloads."""
    require_role(who, ASSURANCE_ROLES)
    report, context = _report(db, request)
    if report is None:
        code = 400 if context["errors"] else 200
        return page(request, "assurance_form.html", context, status_code=code)
    append(db, AuditEvent(actor=who, action=ACTION, outcome="viewed"))
    db.commit()
    context |= report_context(report, with_files=False)
    return page(request, "assurance_report.html", {**context, "query": request.url.query})


@router.get("/reports/assurance/{kind}")
def assurance_download(
    request: Request, who: Who, db: Db, kind: Annotated[str, Path(pattern="^(html|csv|pdf)$")]
) -> Response:
    """The report as a file: the standalone web page, the CSV of every figure, or the PDF."""
    require_role(who, ASSURANCE_ROLES)
    report, _context = _report(db, request)
    if report is None:
        return RedirectResponse(f"/reports/assurance?{request.url.query}", status_code=303)
    if kind == "pdf" and not chromium_available():
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            "The PDF cannot be made here: chromium is not installed. "
            "Download the web page and print it",
        )
    with TemporaryDirectory(prefix="assurance-") as folder:
        files = write_report(report, FilePath(folder), pdf=kind == "pdf")
        body = next(f for f in files if f.name == FILES[kind]).read_bytes()
    append(db, AuditEvent(actor=who, action=ACTION, outcome="exported"))
    db.commit()
    name = f"assurance-{report.start.isoformat()}-to-{report.end.isoformat()}.{kind}"
    headers = {"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"}
    return Response(body, media_type=DOWNLOADS[kind], headers=headers)
