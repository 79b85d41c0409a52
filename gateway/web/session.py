"""Who is signed in to the web pages: a session token of this gateway, kept in a cookie.

Signing in (at the identity provider, ``gateway.web.oidc``; or as a demo user in demo mode)
gets a token from the app's local issuer with a session id (``sid``) and the sign-in time
(``auth_time``), kept in an HttpOnly, SameSite=Strict cookie (``Secure`` outside demo mode):
``ehe_token``, the cookie ``gateway.api.auth.current_actor`` also reads. Every page request
verifies it with the app's ``TokenVerifier`` exactly as the API verifies a bearer token
(signature, expiry, issuer, audience, RS256, maximum lifetime, not signed out).

The token expires after the idle time; each page shown renews it (at most once a minute),
never past the maximum lifetime since sign-in. Signing out revokes the session id for every
worker (``revoked_session``), so a copy of the cookie is refused too. Forms echo a token
derived from the session id (CSRF): a page on another site cannot read the HttpOnly cookie.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

from fastapi import Request, Response

from gateway.access.audit import Actor
from gateway.access.tokens import (
    TOKEN_COOKIE,
    InvalidTokenError,
    LocalIssuer,
    TokenVerifier,
    VerifiedToken,
)

COOKIE = TOKEN_COOKIE
RENEW_AFTER_SECONDS = 60  # a page renews the session token if it is at least this old
_NOBODY = "nobody"


def verifier_of(request: Request) -> TokenVerifier:
    verifier: TokenVerifier = request.app.state.token_verifier
    return verifier


def local_issuer(request: Request) -> LocalIssuer:
    """The app's own issuer: it signs the web sessions."""
    issuer = verifier_of(request).local
    if issuer is None:
        raise RuntimeError("the app's token verifier has no local issuer to sign sessions")
    return issuer


def demo_mode(request: Request) -> bool:
    return bool(getattr(request.app.state, "demo_mode", False))


def sign_in(request: Request, response: Response, actor: Actor) -> str:
    """Start a session for ``actor``: a fresh session id, its token in the cookie; the id."""
    sid = secrets.token_urlsafe(24)
    token = local_issuer(request).issue_session(actor, sid, time.time())
    _set_cookie(request, response, token)
    return sid


def _set_cookie(request: Request, response: Response, token: str) -> None:
    response.set_cookie(
        COOKIE,
        token,
        max_age=verifier_of(request).settings.max_lifetime_seconds,
        httponly=True,
        samesite="strict",
        secure=not demo_mode(request),
        path="/",
    )


def sign_out(response: Response) -> None:
    response.delete_cookie(COOKIE, path="/")


def token_of(request: Request) -> str | None:
    return request.cookies.get(COOKIE) or None


def session_of(request: Request) -> VerifiedToken | None:
    """The request's verified session token, or None (none, expired, forged, signed out)."""
    cached = getattr(request.state, "web_session", None)
    if cached is None:
        token = token_of(request)
        try:
            cached = verifier_of(request).verify(token) if token else _NOBODY
        except InvalidTokenError:
            cached = _NOBODY
        request.state.web_session = cached
    return cached if isinstance(cached, VerifiedToken) else None


def actor_of(request: Request) -> Actor | None:
    """The person the request's verified token names, or None."""
    found = session_of(request)
    return found.actor if found else None


def renew(request: Request, response: Response) -> None:
    """Slide the idle time on: a new token for the same session, if the one sent is a minute
    old (a session's token, not a bearer token; never past the maximum lifetime)."""
    found = session_of(request)
    if found is None or not found.local or found.sid is None or found.auth_time is None:
        return
    issuer = local_issuer(request)
    idle = verifier_of(request).settings.idle_seconds
    if found.ends_at - time.time() > idle - RENEW_AFTER_SECONDS:
        return
    token = issuer.issue_session(found.actor, found.sid, found.auth_time)
    _set_cookie(request, response, token)


def csrf_of(request: Request) -> str:
    """The session's form token ('' when nobody is signed in)."""
    token = token_of(request)
    found = session_of(request)
    if token is None or found is None:
        return ""
    basis = f"sid:{found.sid}" if found.sid else token
    return hashlib.sha256(b"ehe-web-form\x00" + basis.encode()).hexdigest()


def csrf_matches(request: Request, sent: str) -> bool:
    expected = csrf_of(request)
    return bool(expected) and hmac.compare_digest(expected.encode(), sent.encode())
