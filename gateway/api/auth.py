"""Who is asking: the authenticated actor, as one FastAPI dependency every route reuses.

The token comes as ``Authorization: Bearer ...`` (API clients) or in the ``ehe_token`` cookie
(the web pages, which hold the same token). ``create_app`` puts the verifier on
``app.state.token_verifier``. No ``from __future__ import annotations``: FastAPI reads the
annotations at runtime.
"""

from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from gateway.access.audit import Actor
from gateway.access.tokens import TOKEN_COOKIE, InvalidTokenError, TokenVerifier, VerifiedToken

_bearer = HTTPBearer(auto_error=False, description="An OIDC access token (RS256)")


async def current_actor(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Actor:
    """The actor the request's verified token names; 401 (with the reason) otherwise."""
    token = credentials.credentials if credentials else request.cookies.get(TOKEN_COOKIE)
    return (await verified_token(request, token)).actor


async def verified_token(request: Request, token: str | None) -> VerifiedToken:
    """The token checked (signature, claims, lifetime, not signed out); 401 with the reason.

    A token verified before is answered from the verifier's memory on the event loop; a new
    one is checked on a worker thread (fetching an identity provider's keys may block).
    """
    if not token:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "sign in: send an OIDC bearer token (Authorization: Bearer ...)",
            headers={"WWW-Authenticate": "Bearer"},
        )
    verifier: TokenVerifier = request.app.state.token_verifier
    known = verifier.remembered_token(token)
    if known is not None:
        return known
    try:
        return await run_in_threadpool(verifier.verify, token)
    except InvalidTokenError as exc:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            str(exc),
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        ) from None
