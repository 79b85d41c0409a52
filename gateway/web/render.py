"""Rendering pages: the Jinja2 templates, the signed-in person, and what they may open.

Who may look a child up, and see the EHE caseload, is the data-sharing agreements' decision
(the same ``decide`` the API makes); the other pages are for the roles in
``gateway.access.roles``. The header shows only the pages the person may open.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from fastapi import HTTPException, Request, status
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from jinja2 import ChoiceLoader, Environment, FileSystemLoader
from sqlalchemy.orm import Session, sessionmaker

from gateway import clock
from gateway.access.agreements import (
    Agreement,
    SharingDecision,
    decide,
    may_break_glass,
    team_inboxes,
)
from gateway.access.audit import Actor
from gateway.access.inboxes import Inbox
from gateway.access.rate_limit import check_rate
from gateway.access.roles import IG_ROLES, REVIEW_QUEUE_ROLES, ROLES
from gateway.glossary import long_date, words
from gateway.reports.sharing_render import TEMPLATES
from gateway.web.session import actor_of, csrf_matches, csrf_of, renew

HERE = Path(__file__).resolve().parent
# The web pages' own templates, then the reports' (the sharing report's body is one template,
# shown inside the service and written as a standalone file).
templates = Jinja2Templates(
    env=Environment(
        loader=ChoiceLoader([FileSystemLoader(HERE / "templates"), FileSystemLoader(TEMPLATES)]),
        autoescape=True,
    )
)
templates.env.globals["role_titles"] = ROLES
templates.env.filters["words"] = words
templates.env.filters["long_date"] = long_date
CASELOAD_PURPOSE = "ehe_enquiry"


CODED = re.compile(r"\b(role|purpose) ([a-z][a-z_]*[a-z])\b")


def plain_reason(reason: str) -> str:
    """A policy reason for a person to read: "role social_worker ... purpose ehe_enquiry" as
    "the role Social worker ... EHE suitability enquiry / children missing education"."""
    return CODED.sub(
        lambda m: (
            f"the role {words(m[2])}" if m[1] == "role" else f"{m[1]} \u201c{words(m[2])}\u201d"
        ),
        reason,
    )


class SignInNeeded(Exception):
    """Raised by ``signed_in``; the app turns it into a redirect to the sign-in page."""


def database(request: Request) -> Iterator[Session]:
    sessions: sessionmaker[Session] = request.app.state.web_sessions
    with sessions() as session:
        yield session


def signed_in(request: Request) -> Actor:
    """The signed-in person, within their rate limit (the API's limiter and the same limit:
    a page is a request like any other); else sign-in, 429 or 503 (no count, no page)."""
    actor = actor_of(request)
    if actor is None:
        raise SignInNeeded()
    check_rate(request.app.state.rate_limiter, actor.user)
    return actor


def agreements_of(request: Request) -> list[Agreement]:
    agreements: list[Agreement] = request.app.state.agreements
    return agreements


def caseload_decision(request: Request, actor: Actor) -> SharingDecision:
    """Whether an agreement in force lets ``actor`` see the caseload (for an EHE enquiry)."""
    return decide(agreements_of(request), actor, CASELOAD_PURPOSE, clock.today())


def may_look_up(request: Request, actor: Actor) -> bool:
    """An agreement in force names the actor's organisation and role, or they may break glass."""
    today = clock.today()
    agreements = agreements_of(request)
    return may_break_glass(agreements, actor, None, today) or any(
        actor.organisation in c.recipients.organisations and actor.role in c.recipients.roles
        for a in agreements
        if a.in_force(today)
        for c in a.clauses
    )


def inboxes_of(request: Request, actor: Actor) -> list[Inbox]:
    """The team inboxes (of agreements in force) whose members' organisation and role are
    the actor's."""
    named = team_inboxes(agreements_of(request), clock.today())
    return [b for b in named if b.for_member(actor.organisation, actor.role)]


def pages_for(request: Request, actor: Actor | None) -> frozenset[str]:
    """The header's pages this person may open."""
    if actor is None:
        return frozenset()
    pages = {
        "search": may_look_up(request, actor),
        "worklist": caseload_decision(request, actor).allowed,
        "reviews": actor.role in REVIEW_QUEUE_ROLES,
        "ig": actor.role in IG_ROLES,
        "inbox": bool(inboxes_of(request, actor)),
    }
    return frozenset(name for name, allowed in pages.items() if allowed)


def require_role(actor: Actor, allowed: frozenset[str]) -> None:
    if actor.role not in allowed:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "Your role cannot use this page")


def check_csrf(request: Request, token: str) -> None:
    if not csrf_matches(request, token):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, "The form has expired: go back and try again"
        )


def page(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    status_code: int = 200,
) -> HTMLResponse:
    """Render ``template`` with the signed-in person and the form token in its context."""
    actor = actor_of(request)
    values = {"actor": actor, "csrf": csrf_of(request), "can": pages_for(request, actor)}
    values.update(context or {})
    response = templates.TemplateResponse(request, template, values, status_code=status_code)
    renew(request, response)  # a page shown slides the session's idle time on
    return response
