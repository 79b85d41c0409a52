"""Every error under ``/fhir/`` answered as a FHIR OperationOutcome (``application/fhir+json``),
with the status and reason the rest of the API would give.

``install_errors`` wraps the app's exception handlers (installed after the web pages', which
render HTML for paths outside ``/api/``): under ``/fhir/`` an ``HTTPException`` (a refusal, no
token, the rate limit, an unknown path) becomes an OperationOutcome with its status, reason and
headers; a request that does not validate becomes a 400; any other handler's JSON answer (the
database or audit log failing: 503, nothing disclosed) keeps its status and becomes an
OperationOutcome. Elsewhere the handlers answer as before.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable, Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException

from gateway.api.fhir.flags import FHIR_JSON, operation_outcome

FHIR_PREFIX = "/fhir/"
# The FHIR issue type of each status (http://hl7.org/fhir/R4/valueset-issue-type.html).
ISSUE_TYPE = {
    400: "invalid",
    401: "login",
    403: "forbidden",
    404: "not-found",
    405: "not-supported",
    413: "too-long",
    415: "not-supported",
    422: "invalid",
    429: "throttled",
    503: "transient",
}
_KEPT_HEADERS = ("www-authenticate", "retry-after")


def outcome_response(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    """An error answer: one issue of severity error, its type from the status."""
    outcome = operation_outcome("error", ISSUE_TYPE.get(status, "exception"), [message])
    return Response(
        outcome.model_dump_json(), status_code=status, media_type=FHIR_JSON, headers=headers
    )


def install_errors(app: FastAPI) -> None:
    """Answer errors under ``/fhir/`` as OperationOutcomes (see the module's docstring)."""
    for kind, handler in list(app.exception_handlers.items()):
        app.exception_handlers[kind] = _wrapped(handler)


def _wrapped(handler: Callable[..., Any]) -> Callable[..., Any]:
    async def answer(request: Request, exc: Exception) -> Response:
        if not request.url.path.startswith(FHIR_PREFIX):
            return await _run(handler, request, exc)
        if isinstance(exc, HTTPException):
            return outcome_response(exc.status_code, str(exc.detail), _kept(exc.headers))
        if isinstance(exc, RequestValidationError):
            return outcome_response(400, "the request is not valid")
        return _as_outcome(await _run(handler, request, exc))

    return answer


async def _run(handler: Callable[..., Any], request: Request, exc: Exception) -> Response:
    result = handler(request, exc)
    answer: Response = await result if inspect.isawaitable(result) else result
    return answer


def _kept(headers: Mapping[str, str] | None) -> dict[str, str] | None:
    if not headers:
        return None
    return {k: v for k, v in headers.items() if k.lower() in _KEPT_HEADERS}


def _as_outcome(answer: Response) -> Response:
    """Another handler's JSON ``{"detail": ...}`` answer, as an OperationOutcome."""
    try:
        detail = json.loads(bytes(answer.body)).get("detail")
    except (ValueError, AttributeError):
        detail = None
    message = detail if isinstance(detail, str) else "the request could not be answered"
    return outcome_response(answer.status_code, message, _kept(dict(answer.headers)))
