"""Headers every answer carries, and a limit on what a request may send.

A plain ASGI middleware (no per-request task or body copy, as ``BaseHTTPMiddleware`` would
cost on the busiest route): it adds the headers to each response's start message, refuses a
body declared larger than the limit with 413 before reading it, and stops one that grows past
the limit while streaming in.

- ``Cache-Control: no-store``: answers and pages hold child data; no cache keeps them.
- ``Content-Security-Policy``: only this origin's scripts, images and forms (styles may also be
  inline: the sharing report shown in the service carries its own), and
  ``frame-ancestors 'none'`` (no other site may frame a page); the API's interactive docs,
  which load their viewer from elsewhere, get the header without ``default-src``.
- ``X-Content-Type-Options: nosniff``, ``Referrer-Policy: no-referrer``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

MAX_BODY_BYTES = 1024 * 1024  # the largest form or JSON body a route needs is a few KB
CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
    "script-src 'self'; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
DOCS_CSP = "frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
DOCS_PATHS = ("/api/v1/docs", "/docs/oauth2-redirect")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]


def _headers(csp: str) -> list[tuple[bytes, bytes]]:
    return [
        (b"cache-control", b"no-store"),
        (b"content-security-policy", csp.encode()),
        (b"x-content-type-options", b"nosniff"),
        (b"referrer-policy", b"no-referrer"),
    ]


_PAGE_HEADERS = _headers(CSP)
_DOCS_HEADERS = _headers(DOCS_CSP)
_TOO_LARGE = b'{"detail":"the request body is larger than this service accepts"}'


class Hardening:
    """Wraps the app: the headers on every HTTP answer, the body limit on every request."""

    def __init__(self, app: App, max_body_bytes: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = _DOCS_HEADERS if scope["path"].startswith(DOCS_PATHS) else _PAGE_HEADERS
        declared = next((v for k, v in scope["headers"] if k == b"content-length"), None)
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_body_bytes):
            await _too_large(send, extra)
            return
        started = refused = False

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if refused:  # the 413 has been sent: whatever the app answers is dropped
                return
            if message["type"] == "http.response.start":
                started = True
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        received = 0

        async def receive_within_limit() -> Message:
            nonlocal received, refused
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes and not started:
                    # Answer 413 now and tell the app the client has gone: it stops reading.
                    refused = True
                    await _too_large(send, extra)
                    return {"type": "http.disconnect"}
            return message

        await self.app(scope, receive_within_limit, send_with_headers)


async def _too_large(send: Send, extra: list[tuple[bytes, bytes]]) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(_TOO_LARGE)).encode()),
                *extra,
            ],
        }
    )
    await send({"type": "http.response.body", "body": _TOO_LARGE})
