"""Sign in (at the identity provider; as a demo user only in demo mode), sign out, start page.

Every sign-in and sign-out is written to the audit log; sign-out also revokes the session for
every worker, so the token it held is refused from then on (``gateway.access.sessions``).
"""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session, sessionmaker

from gateway.access.audit import Actor, AuditEvent, append
from gateway.access.sessions import ClaimsRefusedError, revoke
from gateway.access.users import load_demo_users
from gateway.web import oidc
from gateway.web.render import check_csrf, page
from gateway.web.session import (
    actor_of,
    demo_mode,
    local_issuer,
    session_of,
    sign_in,
    sign_out,
    token_of,
    verifier_of,
)

log = logging.getLogger(__name__)
router = APIRouter()
SIGNED_IN_AT_PROVIDER = "at the identity provider"
SIGNED_IN_AS_DEMO_USER = "as a demo user (demo mode)"


@router.get("/", response_class=HTMLResponse)
def start(request: Request) -> Response:
    if actor_of(request) is None:
        return RedirectResponse("/sign-in", status_code=303)
    return page(request, "start.html")


def _provider(request: Request) -> oidc.Provider | None:
    provider: oidc.Provider | None = getattr(request.app.state, "oidc_provider", None)
    return provider


def _sign_in_page(
    request: Request, errors: dict[str, str] | None = None, status_code: int = 200
) -> Response:
    demo = demo_mode(request)
    context = {
        "users": list(load_demo_users().values()) if demo else [],
        "errors": errors or {},
        "demo": demo,
        "provider": _provider(request) is not None,
    }
    return page(request, "sign_in.html", context, status_code=status_code)


def _audit(request: Request, event: AuditEvent) -> None:
    sessions: sessionmaker[Session] = request.app.state.web_sessions
    with sessions() as db:
        append(db, event)
        db.commit()


def _signed_in(request: Request, actor: Actor, how: str, response: Response) -> Response:
    _audit(request, AuditEvent(actor, action="sign_in", outcome="signed_in", reason=how))
    sign_in(request, response, actor)
    return response


@router.get("/sign-in", response_class=HTMLResponse)
def sign_in_form(request: Request) -> Response:
    return _sign_in_page(request)


@router.post("/sign-in", response_class=HTMLResponse)
def sign_in_submit(request: Request, user: Annotated[str, Form()] = "") -> Response:
    """Passwordless sign-in as a demo user: demo mode only (the server binds to loopback)."""
    if not demo_mode(request):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            "Demo users are not available here: sign in with your organisation's account",
        )
    chosen = load_demo_users().get(user)
    if chosen is None:
        return _sign_in_page(request, {"user": "Choose who you are signing in as"}, 400)
    actor = Actor(chosen.name, chosen.organisation, chosen.role)
    return _signed_in(
        request, actor, SIGNED_IN_AS_DEMO_USER, RedirectResponse("/", status_code=303)
    )


def _redirect_uri(request: Request, provider: oidc.Provider) -> str:
    return provider.redirect_url or str(request.url_for("oidc_callback"))


@router.get("/auth/sign-in")
def oidc_start(request: Request) -> Response:
    """Send the browser to the identity provider (state, nonce and PKCE in a signed cookie)."""
    provider = _provider(request)
    if provider is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "No identity provider is configured")
    try:
        url, pending = oidc.start(provider, local_issuer(request), _redirect_uri(request, provider))
    except oidc.SignInRefusedError as exc:
        log.warning("sign-in not started: %s", exc)
        return _sign_in_page(request, {"provider": str(exc)}, status.HTTP_502_BAD_GATEWAY)
    response = RedirectResponse(url, status_code=303)
    response.set_cookie(
        oidc.PENDING_COOKIE,
        pending,
        max_age=oidc.PENDING_SECONDS,
        httponly=True,
        samesite="lax",  # the provider's redirect back is a cross-site top-level navigation
        secure=not demo_mode(request),
        path="/auth",
    )
    return response


@router.get("/auth/callback", name="oidc_callback")
def oidc_callback(request: Request) -> Response:
    """The provider's answer: checked (state, code, ID token, nonce), mapped, audited."""
    provider = _provider(request)
    if provider is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "No identity provider is configured")
    try:
        pending = oidc.pending_sign_in(
            local_issuer(request), request.cookies.get(oidc.PENDING_COOKIE)
        )
        params = dict(request.query_params)
        claims = oidc.finish(provider, pending, params, _redirect_uri(request, provider))
    except oidc.SignInRefusedError as exc:
        log.warning("sign-in refused: %s", exc)
        return _refused(request, str(exc))
    try:
        actor = provider.claims.actor(claims)
    except ClaimsRefusedError as exc:
        who = Actor(str(claims.get("sub", ""))[:120], "", "")
        _audit(
            request, AuditEvent(who, action="sign_in", outcome="refused_sign_in", reason=str(exc))
        )
        log.warning("sign-in refused: %s", exc)
        return _refused(request, str(exc))
    # A page of this site moves on to "/": a redirect would be part of the provider's
    # cross-site navigation, which leaves the SameSite=Strict session cookie behind.
    response = _signed_in(request, actor, SIGNED_IN_AT_PROVIDER, page(request, "signed_in.html"))
    response.delete_cookie(oidc.PENDING_COOKIE, path="/auth")
    return response


def _refused(request: Request, reason: str) -> Response:
    response = _sign_in_page(request, {"provider": f"Sign-in refused: {reason}"}, 400)
    response.delete_cookie(oidc.PENDING_COOKIE, path="/auth")
    return response


@router.post("/sign-out")
def sign_out_submit(request: Request, csrf: Annotated[str, Form()] = "") -> Response:
    """End the session for every worker (revoked), audited; then drop the cookie."""
    check_csrf(request, csrf)
    found, token = session_of(request), token_of(request)
    if found is not None and token is not None:
        sessions: sessionmaker[Session] = request.app.state.web_sessions
        with sessions() as db:
            revoke(db, found.session_key, found.ends_at)
            append(db, AuditEvent(found.actor, action="sign_out", outcome="signed_out"))
            db.commit()
        verifier_of(request).forget(token)
    response = RedirectResponse("/sign-in", status_code=303)
    sign_out(response)
    return response
