"""Who is signed in to the web pages: a signed session cookie (demo sign-in for now).

The demo sign-in lets a person pick one of the demo users; the cookie then carries the user,
organisation and role, signed with ``itsdangerous`` (``EHE_WEB_SECRET``, else a random key for
the life of the process) and a per-session token every form echoes back (CSRF). This is the
one module to change when sign-in moves to the OIDC tokens of the API: keep
``actor_of(request)`` and ``csrf_of(request)``, change how the cookie's content is obtained.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass

from fastapi import Request, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer

from gateway.access.audit import Actor

COOKIE = "ehe_session"
MAX_AGE_SECONDS = 8 * 60 * 60
_PROCESS_KEY = secrets.token_hex(32)


@dataclass(frozen=True)
class DemoUser:
    user: str
    name: str
    organisation: str
    role: str


DEMO_USERS: tuple[DemoUser, ...] = (
    DemoUser("ehe.officer@la815.example", "Erin Hale (EHE officer)", "LA 815", "ehe_officer"),
    DemoUser("social.worker@la815.example", "Sam Ward (social worker)", "LA 815", "social_worker"),
    DemoUser(
        "gp.nurse@nhs.example",
        "Harper Nash (health practitioner)",
        "NHS ICB",
        "health_practitioner",
    ),
    DemoUser("data.engineer@la815.example", "Dana Eng (data engineer)", "LA 815", "data_engineer"),
    DemoUser("ig.officer@la815.example", "Iris Gove (IG officer)", "LA 815", "ig_officer"),
)


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(os.environ.get("EHE_WEB_SECRET", _PROCESS_KEY), salt="ehe-web")


def demo_user(user: str | None) -> DemoUser | None:
    return next((u for u in DEMO_USERS if u.user == user), None)


def sign_in(response: Response, chosen: DemoUser, *, secure: bool) -> None:
    """Set the signed session cookie for ``chosen`` on ``response``."""
    content = {
        "user": chosen.user,
        "organisation": chosen.organisation,
        "role": chosen.role,
        "csrf": secrets.token_urlsafe(24),
    }
    response.set_cookie(
        COOKIE,
        _serializer().dumps(content),
        max_age=MAX_AGE_SECONDS,
        httponly=True,
        samesite="strict",
        secure=secure,
    )


def sign_out(response: Response) -> None:
    response.delete_cookie(COOKIE)


def _content(request: Request) -> dict[str, str] | None:
    raw = request.cookies.get(COOKIE)
    if not raw:
        return None
    try:
        content = _serializer().loads(raw, max_age=MAX_AGE_SECONDS)
    except BadSignature:
        return None
    return content if isinstance(content, dict) else None


def actor_of(request: Request) -> Actor | None:
    """The signed-in person, or None."""
    content = _content(request)
    if content is None:
        return None
    return Actor(content["user"], content["organisation"], content["role"])


def csrf_of(request: Request) -> str:
    """The session's form token ('' when nobody is signed in)."""
    content = _content(request)
    return content["csrf"] if content else ""
