"""Recording a family's consent with its evidence, and its withdrawal, from the lookup pages.

Offered where a lookup was refused for want of consent (the form) and under a summary shown for
a purpose that needs consent (the withdrawal), to the roles an agreement names for consent
(``consent_roles``); the rules are ``gateway.access.consent``'s, the API's own. Every attempt
is audited, as in the API.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from gateway.access.audit import Actor, append
from gateway.access.consent import (
    ConsentRefusedError,
    NoSuchConsentError,
    check_may_record,
    consent_audit_event,
    consent_withdrawn_event,
    record_consent,
    withdraw_consent,
)
from gateway.access.purposes import Purpose
from gateway.policy.disclosure import record_refusal
from gateway.web.consent_form import consent_offer, read_evidence
from gateway.web.lookup_pages import Who, _form_child, _refused, _summary_page
from gateway.web.render import agreements_of, check_csrf, database

router = APIRouter()


def _consent_refusal(request: Request, who: Actor, stated: Purpose) -> str | None:
    """Why the person may not record or withdraw consent for the purpose, if they may not."""
    try:
        check_may_record(agreements_of(request), who, stated.code)
    except ConsentRefusedError as exc:
        return exc.reason[:1].upper() + exc.reason[1:]
    return None


@router.post("/summary/consent", response_class=HTMLResponse)
def consent_submit(
    request: Request,
    *,
    who: Who,
    db: Annotated[Session, Depends(database)],
    identifier: Annotated[str, Form(max_length=40)] = "",
    purpose: Annotated[str, Form(max_length=60)] = "",
    given_by: Annotated[str, Form(max_length=20)] = "",
    given_on: Annotated[str, Form(max_length=20)] = "",
    method: Annotated[str, Form(max_length=20)] = "",
    evidence_ref: Annotated[str, Form(max_length=200)] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    """Record the family's consent with its evidence (roles the agreement names for consent),
    then show the summary under it. Every attempt is audited, as in the API."""
    check_csrf(request, csrf)

    found = _form_child(
        request,
        who,
        db,
        action="consent_given",
        identifier=identifier,
        purpose=purpose,
        refusal=lambda stated: _consent_refusal(request, who, stated),
    )
    if isinstance(found, Response):
        return found
    stated, child = found
    evidence, errors = read_evidence(given_by, given_on, method, evidence_ref)
    if evidence is None:
        typed = {"given_by": given_by, "given_on": given_on, "method": method}
        typed["evidence_ref"] = evidence_ref
        offer = consent_offer(
            agreements_of(request),
            who,
            "no_consent",
            identifier=identifier,
            purpose=stated,
            typed=typed,
            errors=errors,
        )
        title = "Record the family's consent"
        return _refused(request, title, "some of the evidence is missing", 400, consent=offer)
    consent = record_consent(
        db, who, child.child_id, stated.code, evidence, agreements=agreements_of(request)
    )
    append(db, consent_audit_event(who, consent))
    db.commit()  # the consent and its audit entry are durable before the lookup
    return _summary_page(request, who, db, child, stated=stated, identifier=identifier)


@router.post("/summary/consent/withdraw", response_class=HTMLResponse)
def consent_withdraw_submit(
    request: Request,
    *,
    who: Who,
    db: Annotated[Session, Depends(database)],
    identifier: Annotated[str, Form(max_length=40)] = "",
    purpose: Annotated[str, Form(max_length=60)] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    """Record that the family withdrew consent (roles the agreement names for consent): at once,
    the purpose shows nothing more; audited like the API's withdrawal."""
    check_csrf(request, csrf)
    found = _form_child(
        request,
        who,
        db,
        action="consent_withdrawn",
        identifier=identifier,
        purpose=purpose,
        refusal=lambda stated: _consent_refusal(request, who, stated),
    )
    if isinstance(found, Response):
        return found
    stated, child = found
    try:
        withdrawn = withdraw_consent(
            db, who, child.child_id, stated.code, agreements=agreements_of(request)
        )
    except NoSuchConsentError as exc:  # none in force (already withdrawn)
        record_refusal(db, who, action="consent_withdrawn", outcome="not_found", purpose=stated)
        return _refused(request, "No consent to withdraw", exc.reason, 404)
    append(db, consent_withdrawn_event(who, child.child_id, stated.code, withdrawn))
    db.commit()  # withdrawn before anything else is shown
    return _summary_page(request, who, db, child, stated=stated, identifier=identifier)
