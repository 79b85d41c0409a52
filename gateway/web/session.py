"""Who is signed in to the web pages: the API's own OIDC token, kept in a cookie.

Signing in as a demo user (``access/demo_users.yaml``, the users ``ehe-gateway users`` lists)
asks the app's local issuer for a token and keeps it in an HttpOnly, SameSite=Strict cookie:
``ehe_token``, the cookie ``gateway.api.auth.current_actor`` also reads. Every page request
verifies that token with the app's ``TokenVerifier`` exactly as the API verifies a bearer
token (signature, expiry, issuer, audience, RS256): an expired, forged or tampered token is no
session. Forms echo a token derived from the session's token (CSRF): a page on another site
cannot read the HttpOnly cookie, so it cannot compute it.
"""

from __future__ import annotations

import hashlib
import hmac

from fastapi import Request, Response

from gateway.access.audit import Actor
from gateway.access.tokens import TOKEN_COOKIE, InvalidTokenError, LocalIssuer, TokenVerifier
from gateway.access.users import DemoUser

COOKIE = TOKEN_COOKIE
SESSION_SECONDS = 8 * 60 * 60  # a working day; then sign in again
_NOBODY = Actor("", "", "")


def local_issuer(request: Request) -> LocalIssuer | None:
    """The app's own issuer (None when an external identity provider signs the tokens)."""
    verifier: TokenVerifier = request.app.state.token_verifier
    return verifier.local


def sign_in(response: Response, issuer: LocalIssuer, chosen: DemoUser, *, secure: bool) -> None:
    """Put a fresh token for ``chosen``, from ``issuer``, in the session cookie."""
    token = issuer.issue(chosen, lifetime_seconds=SESSION_SECONDS)
    response.set_cookie(
        COOKIE,
        token,
        max_age=SESSION_SECONDS,
        httponly=True,
        samesite="strict",
        secure=secure,
        path="/",
    )


def sign_out(response: Response) -> None:
    response.delete_cookie(COOKIE, path="/")


def _token(request: Request) -> str | None:
    return request.cookies.get(COOKIE) or None


def actor_of(request: Request) -> Actor | None:
    """The person the request's verified token names, or None (no, expired or forged token)."""
    cached = getattr(request.state, "web_actor", None)
    if cached is None:
        token = _token(request)
        verifier: TokenVerifier = request.app.state.token_verifier
        try:
            cached = verifier.actor(token) if token else _NOBODY
        except InvalidTokenError:
            cached = _NOBODY
        request.state.web_actor = cached
    return None if cached is _NOBODY else cached


def csrf_of(request: Request) -> str:
    """The session's form token ('' when nobody is signed in)."""
    token = _token(request)
    if token is None or actor_of(request) is None:
        return ""
    return hashlib.sha256(b"ehe-web-form\x00" + token.encode()).hexdigest()


def csrf_matches(request: Request, sent: str) -> bool:
    expected = csrf_of(request)
    return bool(expected) and hmac.compare_digest(expected.encode(), sent.encode())
