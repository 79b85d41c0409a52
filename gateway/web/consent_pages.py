"""Record a family's consent from a refused lookup, then look the child up again.

A lookup for a purpose that needs consent is refused until consent is recorded; the refusal
page offers this page to the roles that record consent (``CONSENT_ROLES``, as the API's
``POST /api/v1/consents``). The identifier travels in POSTed forms, never in a URL. Recording
is audited as ``consent_given``, like the API's.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from gateway.access.audit import Actor, AuditEvent, append
from gateway.access.consent import record_consent
from gateway.access.purposes import UnknownPurposeError, purpose_for
from gateway.access.roles import CONSENT_ROLES
from gateway.identifiers import classify_identifier
from gateway.read_model import find_child_id
from gateway.web.render import check_csrf, database, page, require_role, signed_in

router = APIRouter()
Who = Annotated[Actor, Depends(signed_in)]
Db = Annotated[Session, Depends(database)]
Identifier = Annotated[str, Form(max_length=40)]
PurposeCode = Annotated[str, Form(max_length=60)]
CONFIRM_ERROR = "Confirm that the family has given consent, or go back"


def _context(identifier: str, purpose: str) -> dict[str, object]:
    return {"identifier": identifier, "purpose": purpose_for(purpose)}


@router.post("/consent", response_class=HTMLResponse)
def consent_form(
    request: Request,
    *,
    who: Who,
    identifier: Identifier = "",
    purpose: PurposeCode = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    """The form, reached from a refusal for want of consent."""
    check_csrf(request, csrf)
    require_role(who, CONSENT_ROLES)
    try:
        return page(request, "consent.html", _context(identifier, purpose))
    except UnknownPurposeError:
        return page(request, "refused.html", {"message": "Start the lookup again"}, status_code=400)


@router.post("/consent/record", response_class=HTMLResponse)
def consent_record(
    request: Request,
    *,
    who: Who,
    db: Db,
    identifier: Identifier = "",
    purpose: PurposeCode = "",
    confirmed: Annotated[str, Form(max_length=10)] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    """Record the consent (audited), then offer the lookup again with a success banner."""
    check_csrf(request, csrf)
    require_role(who, CONSENT_ROLES)
    try:
        context = _context(identifier, purpose)
        kind, value = classify_identifier(identifier)
    except (UnknownPurposeError, ValueError):
        return page(request, "refused.html", {"message": "Start the lookup again"}, status_code=400)
    if confirmed != "yes":
        errors = {"confirmed": CONFIRM_ERROR}
        return page(request, "consent.html", {**context, "errors": errors}, status_code=400)
    child_id = find_child_id(db, **{kind: value})
    if child_id is None:
        refusal = AuditEvent(
            actor=who, action="consent_given", outcome="not_found", purpose=purpose
        )
        append(db, refusal)
        db.commit()
        message = "No child in the index matches"
        return page(request, "refused.html", {"message": message, "audited": True}, status_code=404)
    record_consent(db, child_id, purpose, who.user)
    event = AuditEvent(
        actor=who, action="consent_given", outcome="recorded", purpose=purpose, child_id=child_id
    )
    append(db, event)
    db.commit()
    return page(request, "consent.html", {**context, "recorded": True})
