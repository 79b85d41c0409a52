"""Serve the API on a loopback ephemeral port for a test, and sign demo users' tokens."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import uvicorn
from fastapi import FastAPI

from gateway.access.tokens import LocalIssuer
from gateway.access.users import load_demo_users


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serving(app: FastAPI) -> Iterator[httpx.Client]:
    """The app under uvicorn on 127.0.0.1 (port 0 chosen free), with a client for it."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=20) as client:
            yield client
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def bearer(user: str, lifetime_seconds: int = 600) -> dict[str, str]:
    """An Authorization header for a demo user, signed by the local issuer."""
    token = LocalIssuer().issue(load_demo_users()[user], lifetime_seconds=lifetime_seconds)
    return {"Authorization": f"Bearer {token}"}


# The evidence a consent is recorded with (POST /api/v1/consents): synthetic, no names.
CONSENT_EVIDENCE = {
    "given_by": "parent",
    "given_on": "2026-11-20",
    "method": "written",
    "evidence_ref": "EHE-CONSENT-0001",
}
