"""The lookup API: every lookup states a purpose, gets a minimised answer, and is audited.

Who is asking comes from a verified OIDC bearer token (``gateway.api.auth.current_actor``);
the local issuer's public keys are served at ``/.well-known/jwks.json``. Identifiers are
POSTed, never put in URLs. Data-sharing agreements are loaded (and checked) at start.

No ``from __future__ import annotations`` here: FastAPI must see the annotations of the
nested route functions as objects.
"""

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import psycopg
from fastapi import FastAPI, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError

from gateway.access.agreements import Agreement, load_agreements
from gateway.access.audit import AuditUnavailableError
from gateway.access.rate_limit import RateLimiter
from gateway.access.tokens import LocalIssuer, TokenVerifier, verifier_from_env
from gateway.api import audit, children, lookup, policy, reviews
from gateway.api.metrics import metrics_router
from gateway.policy.async_lookup import AsyncLookups
from gateway.store.engine import pool_size, session_factory
from gateway.web import install_web

log = logging.getLogger(__name__)


def create_app(
    index_url: str | None = None,
    verifier: TokenVerifier | None = None,
    agreements: list[Agreement] | None = None,
    rate_limiter: RateLimiter | None = None,
) -> FastAPI:
    app = FastAPI(
        title="EHE gateway lookup API",
        version="1",
        openapi_url="/api/v1/openapi.json",
        docs_url="/api/v1/docs",
        lifespan=_lifespan,
    )
    app.state.sessions = session_factory(index_url)
    bind = app.state.sessions.kw["bind"]
    # On PostgreSQL, the allowed lookup by child id goes on the event loop (lookup.py).
    app.state.async_lookups = (
        AsyncLookups(bind.url.render_as_string(hide_password=False), pool_size())
        if bind.dialect.name == "postgresql"
        else None
    )
    app.state.token_verifier = verifier or verifier_from_env()
    app.state.agreements = load_agreements() if agreements is None else agreements
    app.state.rate_limiter = rate_limiter or RateLimiter.from_env()
    app.include_router(lookup.router)
    app.include_router(children.router)
    app.include_router(policy.router)
    app.include_router(audit.router)
    app.include_router(reviews.router)
    app.add_exception_handler(SQLAlchemyError, _database_failed)
    app.add_exception_handler(AuditUnavailableError, _database_failed)
    app.add_exception_handler(psycopg.Error, _database_failed)
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.include_router(metrics_router(index_url))
    install_web(app, app.state.sessions)

    @app.get("/.well-known/jwks.json", include_in_schema=False)
    def jwks() -> dict[str, object]:
        """The local issuer's public keys (empty when an external identity provider signs)."""
        local: LocalIssuer | None = app.state.token_verifier.local
        return local.jwks() if local else {"keys": []}

    return app


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    # What start-up built (modules, routes, schemas, agreements) lives as long as the process:
    # out of the collector's sight, so that its full collections, which pause every request in
    # the worker, walk only what requests made (see benchmarks/bench_api.py).
    gc.collect()
    gc.freeze()
    yield
    if app.state.async_lookups is not None:
        await app.state.async_lookups.close()


async def _database_failed(request: Request, exc: Exception) -> JSONResponse:
    """Fail closed: if the index or its audit log cannot be written, nothing is disclosed."""
    log.error("database error on %s: %s", request.url.path, type(exc).__name__)
    return JSONResponse(
        {"detail": "the index or its audit log could not be written; nothing was disclosed"},
        status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
    )


async def _invalid_request(request: Request, exc: Exception) -> JSONResponse:
    """Say which field is wrong and why, without echoing what was sent (it may be personal)."""
    errors = exc.errors() if isinstance(exc, RequestValidationError) else []
    detail = [
        {"loc": list(e.get("loc", ())), "msg": e.get("msg", "invalid"), "type": e.get("type")}
        for e in errors
    ]
    return JSONResponse({"detail": detail}, status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)
