"""Server-rendered pages in the look of the GOV.UK Design System, working without JavaScript.

``install_web(app, sessions)`` adds them to the API's FastAPI app (one line in ``create_app``).
Errors on ``/api/`` paths keep the API's own handlers; other paths get a page.
Each page is a thin view over a core function in ``gateway.lookup`` or ``gateway.access``.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exception_handlers import (
    http_exception_handler,
    request_validation_exception_handler,
)
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy.orm import Session, sessionmaker
from starlette.exceptions import HTTPException

from gateway.web import (
    assurance_pages,
    consent_pages,
    ig_pages,
    inbox_pages,
    lookup_pages,
    officer_pages,
    people_search_pages,
    replay_pages,
    report_pages,
    review_pages,
    sign_in_pages,
)
from gateway.web.render import HERE, SignInNeeded, page


def install_web(app: FastAPI, sessions: sessionmaker[Session]) -> None:
    """Mount the web pages and their stylesheet on ``app``, reading the index via ``sessions``."""
    app.state.web_sessions = sessions
    api_http_error = app.exception_handlers.get(HTTPException, http_exception_handler)
    api_bad_request = app.exception_handlers.get(
        RequestValidationError, request_validation_exception_handler
    )
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    pages = (
        sign_in_pages,
        lookup_pages,
        consent_pages,
        people_search_pages,
        officer_pages,
        inbox_pages,
        review_pages,
        ig_pages,
        replay_pages,
        report_pages,
        assurance_pages,
    )
    for module in pages:
        app.include_router(module.router, include_in_schema=False)

    @app.exception_handler(SignInNeeded)
    def _to_sign_in(_request: Request, _exc: SignInNeeded) -> Response:
        return RedirectResponse("/sign-in", status_code=303)

    @app.exception_handler(HTTPException)
    async def _error_page(request: Request, exc: HTTPException) -> Response:
        if request.url.path.startswith("/api/"):
            return await _answer(api_http_error, request, exc)
        return page(request, "refused.html", {"message": exc.detail}, status_code=exc.status_code)

    @app.exception_handler(RequestValidationError)
    async def _bad_request_page(request: Request, exc: RequestValidationError) -> Response:
        if request.url.path.startswith("/api/"):
            return await _answer(api_bad_request, request, exc)  # the API's: echoes nothing
        message = "Check what you entered and try again"
        return page(request, "refused.html", {"message": message}, status_code=400)


async def _answer(handler: Callable[..., Any], request: Request, exc: Exception) -> Response:
    """Run an exception handler, sync or async."""
    result = handler(request, exc)
    answer: Response = await result if inspect.isawaitable(result) else result
    return answer
