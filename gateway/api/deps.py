"""Dependencies shared by the API's routers: a database session, the rate-limited actor.

They are ``async`` because they do no I/O of their own: FastAPI runs a plain ``def``
dependency on a worker thread, and each such hop costs more than the work it carries.
No ``from __future__ import annotations``: FastAPI reads the annotations at runtime.
"""

from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, status
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from gateway.access.audit import Actor
from gateway.access.rate_limit import RateLimiter, check_rate
from gateway.access.roles import ROLES
from gateway.api.auth import current_actor

COMMON_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"description": "no token, or one that is not valid (the reason is given)"},
    403: {"description": "refused: role, agreement or consent (the reason is given)"},
    429: {"description": "too many requests from this user; see Retry-After"},
    503: {"description": "the index or its audit log could not be written; nothing disclosed"},
}


async def database(request: Request) -> AsyncIterator[Session]:
    """One session per request, from the factory ``create_app`` put on ``app.state``.

    Making a session connects to nothing; the route's code (on a worker thread) does the
    I/O. Closing one still inside a transaction (the route failed before committing) rolls
    back over the network, so that is done on a worker thread too.
    """
    sessions: sessionmaker[Session] = request.app.state.sessions
    session = sessions()
    try:
        yield session
    finally:
        if session.in_transaction():
            await run_in_threadpool(session.close)
        else:
            session.close()


async def rate_limited(request: Request, who: Annotated[Actor, Depends(current_actor)]) -> Actor:
    """The actor, if within their rate limit; else ``RateLimitedError`` (429 with Retry-After)
    or ``RateLimitUnavailableError`` (503: no count, no answer), answered by the app."""
    await within_rate(request, who)
    return who


async def within_rate(request: Request, who: Actor) -> None:
    """Count one request of ``who`` against their limit (raising as ``rate_limited`` says)."""
    limiter: RateLimiter = request.app.state.rate_limiter
    if limiter.shared:  # counted in Redis: ask it off the event loop
        await run_in_threadpool(check_rate, limiter, who.user)
    else:
        check_rate(limiter, who.user)


def require_role(*roles: str) -> Callable[[Actor], Coroutine[Any, Any, Actor]]:
    """A dependency that lets only the named roles through, within their rate limit (403 names
    the roles needed)."""
    unknown = set(roles) - set(ROLES)
    if unknown:
        raise ValueError(f"unknown roles: {sorted(unknown)}")

    async def checked(who: Annotated[Actor, Depends(rate_limited)]) -> Actor:
        if who.role not in roles:
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                f"this needs one of the roles: {', '.join(roles)}",
            )
        return who

    return checked
