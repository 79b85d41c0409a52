"""Rendering pages: the Jinja2 templates, the signed-in person, and role checks."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from fastapi import HTTPException, Request, status
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from sqlalchemy.orm import Session, sessionmaker

from gateway.access.audit import Actor
from gateway.web.session import actor_of, csrf_of

HERE = Path(__file__).resolve().parent
templates = Jinja2Templates(directory=HERE / "templates")

ROLE_TITLES = {
    "ehe_officer": "EHE officer",
    "social_worker": "Social worker",
    "health_practitioner": "Health practitioner",
    "data_engineer": "Data engineer",
    "ig_officer": "IG officer",
    "admin": "Administrator",
}
templates.env.globals["role_titles"] = ROLE_TITLES


class SignInNeeded(Exception):
    """Raised by ``signed_in``; the app turns it into a redirect to the sign-in page."""


def database(request: Request) -> Iterator[Session]:
    sessions: sessionmaker[Session] = request.app.state.web_sessions
    with sessions() as session:
        yield session


def signed_in(request: Request) -> Actor:
    actor = actor_of(request)
    if actor is None:
        raise SignInNeeded()
    return actor


def require_role(actor: Actor, allowed: frozenset[str]) -> None:
    if actor.role not in allowed:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "Your role cannot use this page")


def check_csrf(request: Request, token: str) -> None:
    expected = csrf_of(request)
    if not expected or token != expected:
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
    values = {"actor": actor_of(request), "csrf": csrf_of(request)}
    values.update(context or {})
    return templates.TemplateResponse(request, template, values, status_code=status_code)
