"""Dependencies shared by the API's routers: a database session, the rate-limited actor.

No ``from __future__ import annotations``: FastAPI reads the annotations at runtime.
"""

import math
from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, status
from sqlalchemy.orm import Session, sessionmaker

from gateway.access.audit import Actor
from gateway.access.rate_limit import RateLimiter, RateLimitUnavailableError
from gateway.api.auth import current_actor

COMMON_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"description": "no token, or one that is not valid (the reason is given)"},
    403: {"description": "refused: role, agreement or consent (the reason is given)"},
    429: {"description": "too many requests from this user; see Retry-After"},
    503: {"description": "the index or its audit log could not be written; nothing disclosed"},
}


def database(request: Request) -> Iterator[Session]:
    """One session per request, from the factory ``create_app`` put on ``app.state``."""
    sessions: sessionmaker[Session] = request.app.state.sessions
    with sessions() as session:
        yield session


def rate_limited(request: Request, who: Annotated[Actor, Depends(current_actor)]) -> Actor:
    """The actor, if within their rate limit; else 429 with Retry-After (whole seconds)."""
    limiter: RateLimiter = request.app.state.rate_limiter
    try:
        wait = limiter.retry_after(who.user)
    except RateLimitUnavailableError as exc:  # fail closed: no count, no answer
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, str(exc)) from None
    if wait is not None:
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            "too many requests from this user; wait and try again",
            headers={"Retry-After": str(max(1, math.ceil(wait)))},
        )
    return who
