"""Find a child by name and date of birth: the API's ranked search, as a page.

An EHE officer often has no NHS number or UPN, only what a family or a school told them. The
form POSTs the demographics with a purpose (never in a URL); ``audited_search``, the API's own
search, ranks the candidates by the linkage model and says why each matched; the search is
audited, with the candidates it showed, like a lookup. Each candidate's summary is then asked
for by child id under the same purpose (the summary page's own policy and audit).
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from gateway import clock
from gateway.access.audit import Actor
from gateway.access.purposes import PURPOSES, UnknownPurposeError, purpose_for
from gateway.lookup.search import Demographics
from gateway.policy.disclosure import Refusal, record_refusal
from gateway.policy.listings import audited_search
from gateway.web.date_input import TypedDate, read_date
from gateway.web.lookup_pages import may_look_up_or_403
from gateway.web.render import agreements_of, check_csrf, database, page, signed_in

router = APIRouter()
Who = Annotated[Actor, Depends(signed_in)]
Text = Annotated[str, Form(max_length=80)]


@router.get("/search/people", response_class=HTMLResponse)
def people_search_form(request: Request, who: Who) -> Response:
    may_look_up_or_403(request, who)
    return _form(request, {}, {}, status_code=200)


@router.post("/search/people", response_class=HTMLResponse)
def people_search_submit(
    request: Request,
    *,
    who: Who,
    db: Annotated[Session, Depends(database)],
    given_name: Text = "",
    family_name: Text = "",
    day: Annotated[str, Form(max_length=4)] = "",
    month: Annotated[str, Form(max_length=4)] = "",
    year: Annotated[str, Form(max_length=6)] = "",
    postcode: Annotated[str, Form(max_length=10)] = "",
    purpose: Annotated[str, Form(max_length=60)] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(request, csrf)
    may_look_up_or_403(request, who)
    typed = {
        "given_name": given_name,
        "family_name": family_name,
        "day": day,
        "month": month,
        "year": year,
        "postcode": postcode,
        "purpose": purpose,
    }
    errors: dict[str, str] = {}
    query = _demographics(typed, errors)
    try:
        stated = purpose_for(purpose or None)
    except UnknownPurposeError:
        stated = None
        errors["purpose"] = "Choose why you need to know"
    if stated is None:  # a search without a purpose is a refusal, recorded as one
        record_refusal(db, who, action="search", outcome="no_purpose", purpose_given=purpose)
    if query is None or stated is None:
        return _form(request, typed, errors, status_code=400)
    try:
        found = audited_search(db, who, stated, query, agreements=agreements_of(request))
    except Refusal as refusal:
        db.commit()
        context = {"message": "You cannot search for children", "reason": refusal.reason}
        return page(request, "refused.html", {**context, "audited": True}, status_code=403)
    db.commit()  # the candidates are shown only once the search's audit entry is durable
    # What was typed is not shown again: the page names children by id only.
    return page(request, "search_results.html", {"candidates": found, "purpose": stated})


def _demographics(typed: dict[str, str], errors: dict[str, str]) -> Demographics | None:
    """The search's demographics, or None with a message per field that is wrong."""
    if not typed["family_name"].strip():
        errors["family_name"] = "Enter the child's last name"
    born, problem = _birth_date(typed["day"], typed["month"], typed["year"])
    if problem:
        errors["birth_date"] = problem
    if errors:
        return None
    try:
        return Demographics(
            given_name=typed["given_name"].strip() or None,
            family_name=typed["family_name"].strip(),
            birth_date=born,
            postcode=typed["postcode"].strip() or None,
        )
    except ValidationError:
        errors["family_name"] = "Check the name and postcode"
        return None


def _birth_date(day: str, month: str, year: str) -> tuple[date | None, str | None]:
    """The date typed in the three boxes, or what is wrong with it (GOV.UK's messages)."""
    born, problem = read_date(
        "Date of birth",
        TypedDate(day, month, year),
        earliest=date(1990, 1, 1),
        latest=clock.today(),
    )
    if born is None and problem is None:
        return None, "Enter the child's date of birth"
    return born, problem


def _form(
    request: Request, typed: dict[str, str], errors: dict[str, str], status_code: int
) -> Response:
    context: dict[str, Any] = {"people": typed, "errors": errors, "purposes": PURPOSES.values()}
    return page(request, "search_people.html", context, status_code=status_code)
