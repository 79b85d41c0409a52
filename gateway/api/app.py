"""The lookup API: every lookup states a purpose, gets a minimised answer, and is audited.

Who is asking comes from a verified OIDC bearer token (``gateway.api.auth.current_actor``);
the local issuer's public keys are served at ``/.well-known/jwks.json``. Identifiers are
POSTed, never put in URLs. Data-sharing agreements are loaded (and checked) at start.

No ``from __future__ import annotations`` here: FastAPI must see the annotations of the
nested route functions as objects.
"""

import gc
import inspect
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import psycopg
from fastapi import FastAPI, Request, status
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException

from gateway.access.agreements import Agreement, load_agreements
from gateway.access.audit import AuditUnavailableError
from gateway.access.rate_limit import RateLimitedError, RateLimiter, RateLimitUnavailableError
from gateway.access.sessions import Revocations
from gateway.access.tokens import LocalIssuer, TokenVerifier, verifier_from_env
from gateway.api import audit, children, lookup, policy, reviews
from gateway.api.fhir import install_fhir
from gateway.api.hardening import Hardening
from gateway.api.metrics import metrics_router
from gateway.policy.async_lookup import AsyncLookups
from gateway.settings import settings
from gateway.store.engine import pool_size, session_factory
from gateway.web import install_web
from gateway.web.oidc import Provider

log = logging.getLogger(__name__)


def create_app(
    index_url: str | None = None,
    verifier: TokenVerifier | None = None,
    agreements: list[Agreement] | None = None,
    rate_limiter: RateLimiter | None = None,
    *,
    demo_mode: bool | None = None,
    oidc_provider: Provider | None = None,
) -> FastAPI:
    """The app. ``demo_mode`` (default ``EHE_DEMO_MODE``) allows the passwordless demo
    sign-in and non-Secure cookies; ``oidc_provider`` (default from the OIDC settings) is the
    identity provider of the web sign-in."""
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
    if app.state.token_verifier.revocations is None:  # sign-out is shared by every worker
        app.state.token_verifier.revocations = Revocations(app.state.sessions)
    app.state.demo_mode = settings().demo_mode if demo_mode is None else demo_mode
    app.state.oidc_provider = oidc_provider or Provider.from_env()
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
    app.add_exception_handler(RateLimitedError, _rate_limited)
    app.add_exception_handler(RateLimitUnavailableError, _rate_unknown)
    install_fhir(app)  # last: it wraps the handlers above for /fhir/ (OperationOutcomes)
    app.add_middleware(Hardening)

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


async def _rate_limited(request: Request, exc: Exception) -> Response:
    """429 with the seconds to wait, as an API answer or a page (the app's HTTP error handler)."""
    wait = exc.retry_after if isinstance(exc, RateLimitedError) else 1
    refused = HTTPException(
        status.HTTP_429_TOO_MANY_REQUESTS,
        "too many requests from this user; wait and try again",
        headers={"Retry-After": str(wait)},
    )
    return await _as_http_error(request, refused)


async def _rate_unknown(request: Request, exc: Exception) -> Response:
    """Fail closed: a request that cannot be counted is not answered."""
    unavailable = HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, str(exc))
    return await _as_http_error(request, unavailable)


async def _as_http_error(request: Request, error: HTTPException) -> Response:
    handler = request.app.exception_handlers.get(HTTPException, http_exception_handler)
    answer = handler(request, error)
    return await answer if inspect.isawaitable(answer) else answer


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
