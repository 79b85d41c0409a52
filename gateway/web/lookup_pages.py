"""Find a child: identifier (POSTed, never in a URL), then purpose, then the minimised summary.

The summary comes from ``gateway.policy.disclosure.disclose``, the API's own policy: the
agreement clause for the person's role and purpose, consent where the purpose needs it,
restricted records, break-glass; every refusal is audited like a disclosure.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Depends, Form, HTTPException, Request, status
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from gateway import clock
from gateway.access.agreements import decide, may_break_glass
from gateway.access.audit import Actor
from gateway.access.break_glass import (
    BreakGlassRefusedError,
    break_glass_minutes,
    request_break_glass,
)
from gateway.access.purposes import PURPOSES, Purpose, UnknownPurposeError, purpose_for
from gateway.identifiers import classify_identifier
from gateway.policy.disclosure import Refusal, disclose, record_refusal
from gateway.policy.listings import searched_sources
from gateway.policy.next_steps import next_steps
from gateway.read_model import FoundChild, child_with_records, find_child_id
from gateway.settings import settings
from gateway.web.consent_form import consent_offer, withdraw_offer
from gateway.web.render import (
    agreements_of,
    check_csrf,
    database,
    may_look_up,
    page,
    plain_reason,
    signed_in,
)
from gateway.web.summary_view import headlines, summary_sections

router = APIRouter()
Who = Annotated[Actor, Depends(signed_in)]


def may_look_up_or_403(request: Request, who: Actor) -> None:
    if not may_look_up(request, who):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            "No data-sharing agreement lets your role look up a child",
        )


@router.get("/search", response_class=HTMLResponse)
def search_form(request: Request, who: Who) -> Response:
    may_look_up_or_403(request, who)
    return page(request, "search.html", {"purposes": PURPOSES.values(), "people": {}})


@router.post("/search", response_class=HTMLResponse)
def search_submit(
    request: Request,
    *,
    who: Who,
    identifier: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(request, csrf)
    may_look_up_or_403(request, who)
    try:
        classify_identifier(identifier)
    except ValueError as exc:
        errors = {"identifier": str(exc)}
        context = {"errors": errors, "typed": identifier, "purposes": PURPOSES.values()}
        return page(request, "search.html", {**context, "people": {}}, status_code=400)
    return page(request, "purpose.html", {"identifier": identifier, "purposes": PURPOSES.values()})


def _refused(  # noqa: PLR0917 (the page's parts, each named where it is called)
    request: Request,
    title: str,
    reason: str,
    code: int,
    break_glass: dict[str, object] | None = None,
    next_steps: dict[str, object] | None = None,
    *,
    consent: dict[str, object] | None = None,
) -> Response:
    context = {
        "message": title,
        "reason": reason,
        "audited": True,
        "break_glass": break_glass,
        "consent": consent,
        "next": next_steps,
    }
    for offer in (break_glass, consent):
        if offer and offer.get("errors"):
            context["errors"] = offer["errors"]
    return page(request, "refused.html", context, status_code=code)


def _refused_lookup(
    request: Request,
    who: Actor,
    *,
    outcome: str,
    reason: str,
    identifier: str,
    purpose: Purpose,
    status_code: int = 403,
    typed_reason: str = "",
    errors: dict[str, str] | None = None,
) -> Response:
    """The refusal page with what the person may do next (the policy point's ``next_steps``):
    another purpose their role may use, the family's consent, and break-glass last."""
    steps = next_steps(agreements_of(request), who, purpose, outcome, clock.today())
    offer = None
    if steps.break_glass:
        offer = {
            "identifier": identifier,
            "purpose": purpose.code,
            "minutes": break_glass_minutes(),
            "errors": errors or {},
            "typed": typed_reason,
        }
    shown = {"steps": steps, "identifier": identifier, "purpose": purpose}
    consent = consent_offer(
        agreements_of(request), who, outcome, identifier=identifier, purpose=purpose
    )
    title = "You cannot see this child's record"
    return _refused(
        request, title, plain_reason(reason), status_code, offer, shown, consent=consent
    )


@router.post("/summary", response_class=HTMLResponse)
def summary_submit(
    request: Request,
    *,
    who: Who,
    db: Annotated[Session, Depends(database)],
    identifier: Annotated[str, Form()] = "",
    purpose: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(request, csrf)
    try:
        stated = purpose_for(purpose or None)
    except UnknownPurposeError:
        record_refusal(db, who, action="lookup", outcome="no_purpose", purpose_given=purpose)
        context = {
            "identifier": identifier,
            "purposes": PURPOSES.values(),
            "errors": {"purpose": "Choose why you need to know"},
        }
        return page(request, "purpose.html", context, status_code=400)
    try:
        kind, value = classify_identifier(identifier)
    except ValueError as exc:
        record_refusal(db, who, action="lookup", outcome="bad_identifier", purpose=stated)
        return _refused(request, "Check the identifier", str(exc), 400)
    child_id = find_child_id(db, **{kind: value})
    child = child_with_records(db, child_id) if child_id else None
    if child is None:
        record_refusal(db, who, action="lookup", outcome="not_found", purpose=stated)
        db.commit()
        return _no_match(request, db, kind)
    return _summary_page(request, who, db, child, stated=stated, identifier=identifier)


def _no_match(request: Request, db: Session, kind: str) -> Response:
    """No child has this identifier: say which sources were searched and how fresh each is,
    and offer the name and date-of-birth search (the number on file may be mistyped or
    missing)."""
    context = {"kind": kind, "sources": searched_sources(db), "people": {}}
    return page(request, "no_match.html", context, status_code=404)


def _summary_page(
    request: Request,
    who: Actor,
    db: Session,
    child: FoundChild,
    *,
    stated: Purpose,
    identifier: str,
) -> Response:
    """Disclose (the API's policy) and show the summary, or the refusal and, where the role may,
    the break-glass form."""
    try:
        answer = disclose(db, who, stated, child, agreements=agreements_of(request))
    except Refusal as refusal:
        db.commit()
        return _refused_lookup(
            request,
            who,
            outcome=refusal.outcome,
            reason=refusal.reason,
            identifier=identifier,
            purpose=stated,
        )
    db.commit()  # the page is shown only once its audit entry is durable
    shown: dict[str, object] = {
        "answer": answer,
        "purpose": stated,
        "sections": summary_sections(answer),
        "withdraw": withdraw_offer(agreements_of(request), who, stated, identifier=identifier),
        "headlines": headlines(answer, clock.today(), settings().caseload_act_now_unseen_months),
    }
    return page(request, "summary.html", shown)


def _form_child(
    request: Request,
    who: Actor,
    db: Session,
    *,
    action: str,
    identifier: str,
    purpose: str,
    refusal: Callable[[Purpose], str | None],
) -> tuple[Purpose, FoundChild] | Response:
    """The purpose and child a form after a refused lookup names (break-glass, consent), once
    ``refusal`` says nothing against the person; each refusal is audited as ``action``: a bad
    form (400), the person not allowed (403), no such child (404)."""
    try:
        stated = purpose_for(purpose or None)
        kind, value = classify_identifier(identifier)
    except (UnknownPurposeError, ValueError):
        record_refusal(db, who, action=action, outcome="bad_request", purpose_given=purpose)
        return _refused(request, "Start the lookup again", "Find the child and choose why.", 400)
    refused = refusal(stated)
    if refused:
        record_refusal(db, who, action=action, outcome="refused", purpose=stated)
        raise HTTPException(status.HTTP_403_FORBIDDEN, refused)
    child_id = find_child_id(db, **{kind: value})
    child = child_with_records(db, child_id) if child_id else None
    if child is None:
        record_refusal(db, who, action=action, outcome="not_found", purpose=stated)
        return _refused(request, "No child in the index matches", "Check what you typed.", 404)
    return stated, child


@router.post("/summary/break-glass", response_class=HTMLResponse)
def break_glass_submit(
    request: Request,
    *,
    who: Who,
    db: Annotated[Session, Depends(database)],
    identifier: Annotated[str, Form(max_length=40)] = "",
    purpose: Annotated[str, Form(max_length=60)] = "",
    reason: Annotated[str, Form(max_length=2000)] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    """Open a time-limited override with the typed reason (named roles only; it goes on the IG
    review list), then show the summary under it. Every attempt is audited, as in the API."""
    check_csrf(request, csrf)

    def refusal(stated: Purpose) -> str | None:
        if may_break_glass(agreements_of(request), who, stated.code, clock.today()):
            return None
        return "No data-sharing agreement lets your role break the glass for this purpose"

    found = _form_child(
        request,
        who,
        db,
        action="break_glass",
        identifier=identifier,
        purpose=purpose,
        refusal=refusal,
    )
    if isinstance(found, Response):
        return found
    stated, child = found
    try:
        request_break_glass(
            db, who, child.child_id, stated.code, reason, agreements=agreements_of(request)
        )
    except BreakGlassRefusedError as exc:
        # The same page as the refusal it came from, with the reason as typed and what to fix.
        return _refused_lookup(
            request,
            who,
            outcome="refused",
            reason=decide(agreements_of(request), who, stated.code, clock.today()).reason,
            identifier=identifier,
            purpose=stated,
            status_code=400,
            typed_reason=reason,
            errors={"reason": exc.reason[:1].upper() + exc.reason[1:]},
        )
    db.commit()  # the override is on the IG review list before anything is shown
    return _summary_page(request, who, db, child, stated=stated, identifier=identifier)
