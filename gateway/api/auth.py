"""Who is asking: the authenticated actor, as one FastAPI dependency every route reuses.

The token comes as ``Authorization: Bearer ...`` (API clients) or in the ``ehe_token`` cookie
(the web pages, which hold the same token). ``create_app`` puts the verifier on
``app.state.token_verifier``. No ``from __future__ import annotations``: FastAPI reads the
annotations at runtime.
"""

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from gateway.access.audit import Actor
from gateway.access.roles import ROLES
from gateway.access.tokens import InvalidTokenError, TokenVerifier

TOKEN_COOKIE = "ehe_token"  # noqa: S105 (a cookie name, not a secret)
_bearer = HTTPBearer(auto_error=False, description="An OIDC access token (RS256)")


def current_actor(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Actor:
    """The actor the request's verified token names; 401 (with the reason) otherwise."""
    token = credentials.credentials if credentials else request.cookies.get(TOKEN_COOKIE)
    if not token:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "sign in: send an OIDC bearer token (Authorization: Bearer ...)",
            headers={"WWW-Authenticate": "Bearer"},
        )
    verifier: TokenVerifier = request.app.state.token_verifier
    try:
        return verifier.actor(token)
    except InvalidTokenError as exc:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            str(exc),
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        ) from None


def require_role(*roles: str) -> Callable[[Actor], Actor]:
    """A dependency that lets only the named roles through (403 names the roles needed)."""
    unknown = set(roles) - set(ROLES)
    if unknown:
        raise ValueError(f"unknown roles: {sorted(unknown)}")

    def checked(who: Annotated[Actor, Depends(current_actor)]) -> Actor:
        if who.role not in roles:
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                f"this needs one of the roles: {', '.join(roles)}",
            )
        return who

    return checked
