"""Every answer carries no-store, a CSP with frame-ancestors and nosniff; a body larger than
the service accepts is refused with 413 before it is read, and so is one that grows too large
while streaming in (no Content-Length). Over real HTTP on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from api_server import bearer, serving
from index_builder import add_population

from gateway.api.app import create_app
from gateway.api.hardening import MAX_BODY_BYTES
from gateway.store.engine import session_factory


@pytest.fixture
def api(index_url: str, data_dir: Path) -> Iterator[httpx.Client]:
    with session_factory(index_url).begin() as session:
        add_population(session)
    with serving(create_app(index_url)) as client:
        yield client


def _hardened(response: httpx.Response) -> None:
    assert response.headers["cache-control"] == "no-store"
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"


def test_every_answer_with_or_without_child_data_is_hardened(api: httpx.Client) -> None:
    lookup = api.post(
        "/api/v1/lookup",
        json={"child_id": "C-A", "purpose": "ehe_enquiry"},
        headers=bearer("erin.ehe"),
    )
    assert lookup.status_code == 200 and "social_care" in lookup.text
    for response in (
        lookup,
        api.get("/api/v1/caseload", headers=bearer("erin.ehe")),
        api.post("/api/v1/lookup", json={"child_id": "C-A"}),  # 401
        api.get("/sign-in"),
        api.get("/no-such-page"),
    ):
        _hardened(response)
    assert "default-src 'self'" in lookup.headers["content-security-policy"]


def test_a_body_declared_too_large_is_refused_unread(api: httpx.Client) -> None:
    huge = b"{" + b" " * (30 * 1024 * 1024) + b"}"
    refused = api.post(
        "/api/v1/lookup",
        content=huge,
        headers={**bearer("erin.ehe"), "content-type": "application/json"},
    )
    assert refused.status_code == 413
    _hardened(refused)


def test_a_body_streamed_past_the_limit_is_refused(api: httpx.Client) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"purpose": "ehe_enquiry", "child_id": "'
        for _ in range(MAX_BODY_BYTES // 65536 + 2):
            yield b"x" * 65536
        yield b'"}'

    refused = api.post(
        "/api/v1/lookup",
        content=chunks(),
        headers={**bearer("erin.ehe"), "content-type": "application/json"},
    )
    assert refused.status_code == 413
