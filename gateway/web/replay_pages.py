"""The replay page for IG officers: what the index held about a child at an instant, what a
lookup would have answered then, and who looked (``gateway.policy.replay``; audited)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from gateway.access.audit import Actor
from gateway.access.purposes import PURPOSES
from gateway.access.roles import REPLAY_ROLES, ROLES
from gateway.policy.replay import replay
from gateway.web.render import agreements_of, check_csrf, database, page, require_role, signed_in

router = APIRouter()
Who = Annotated[Actor, Depends(signed_in)]
Db = Annotated[Session, Depends(database)]
FIELDS = ("child", "at", "role", "organisation", "purpose")


@router.get("/replay", response_class=HTMLResponse)
def replay_form(request: Request, who: Who) -> Response:
    require_role(who, REPLAY_ROLES)
    return page(request, "replay.html", _choices({}, {}))


@router.post("/replay", response_class=HTMLResponse)
def replay_page(
    request: Request,
    *,
    who: Who,
    db: Db,
    child: Annotated[str, Form(max_length=40)] = "",
    at: Annotated[str, Form(max_length=40)] = "",
    role: Annotated[str, Form(max_length=40)] = "",
    organisation: Annotated[str, Form(max_length=120)] = "",
    purpose: Annotated[str, Form(max_length=60)] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    """The replay of a lookup (POSTed: the child id stays out of URLs and logs)."""
    check_csrf(request, csrf)
    require_role(who, REPLAY_ROLES)
    typed = dict(zip(FIELDS, (child, at, role, organisation, purpose), strict=True))
    typed = {k: v.strip() for k, v in typed.items()}
    errors = _problems(typed)
    instant = _instant(typed["at"])
    if instant is None and "at" not in errors:
        errors["at"] = "Enter the date and time as 2026-11-29 14:30 (UTC)"
    if errors or instant is None:
        return page(request, "replay.html", _choices(typed, errors), status_code=400)
    result = replay(
        db,
        who,
        typed["child"],
        instant,
        actor=Actor("replay", typed["organisation"], typed["role"]),
        purpose=PURPOSES[typed["purpose"]],
        agreements=agreements_of(request),
    )
    db.commit()  # the replay's audit entry first
    context = _choices(typed, {})
    context["result"] = result.as_json()
    return page(request, "replay.html", context)


def _problems(typed: dict[str, str]) -> dict[str, str]:
    errors = {}
    if not typed["child"].startswith("C-"):
        errors["child"] = "Enter the child id from the index, starting C-"
    if not typed["at"]:
        errors["at"] = "Enter the date and time to replay"
    if typed["role"] not in ROLES:
        errors["role"] = "Choose the role of the person whose lookup you are replaying"
    if not typed["organisation"]:
        errors["organisation"] = "Enter their organisation as the agreements name it"
    if typed["purpose"] not in PURPOSES:
        errors["purpose"] = "Choose the purpose the lookup stated"
    return errors


def _instant(value: str) -> datetime | None:
    try:
        at = datetime.fromisoformat(value.replace(" ", "T", 1))
    except ValueError:
        return None
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at


def _choices(typed: dict[str, str], errors: dict[str, str]) -> dict[str, Any]:
    return {"typed": typed, "errors": errors, "roles": ROLES, "purposes": PURPOSES.values()}
