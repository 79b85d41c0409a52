"""The web pages over real HTTP without a browser: sessions, form tokens, errors, API intact."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import func, select
from web_support import served

from gateway.access.audit import Actor, AuditEvent, append
from gateway.api.app import create_app
from gateway.store.engine import session_factory
from gateway.store.tables import AuditEntry, LinkReview
from gateway.web.session import COOKIE

pytestmark = pytest.mark.parametrize("index_url", ["sqlite"], indirect=True)


@pytest.fixture
def client(index_url: str) -> Iterator[httpx.Client]:
    with served(create_app(index_url)) as base, httpx.Client(base_url=base, timeout=10) as http:
        yield http


def _sign_in(client: httpx.Client, user: str = "ehe.officer@la815.example") -> str:
    response = client.post("/sign-in", data={"user": user})
    assert response.status_code == 303 and COOKIE in response.cookies
    page = client.get("/search")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert token, "every form carries the session's token"
    return token.group(1)


def _audit_count(index_url: str) -> int:
    with session_factory(index_url)() as session:
        return session.scalar(select(func.count()).select_from(AuditEntry)) or 0


def test_pages_need_a_signed_in_person(client: httpx.Client) -> None:
    for path in ("/", "/search", "/worklist", "/reviews", "/audit"):
        response = client.get(path)
        assert response.status_code == 303 and response.headers["location"] == "/sign-in"
    assert client.get("/static/gateway.css").headers["content-type"].startswith("text/css")


def test_sign_in_needs_a_known_demo_user(client: httpx.Client) -> None:
    response = client.post("/sign-in", data={"user": "someone@else.example"})
    assert response.status_code == 400
    assert "There is a problem" in response.text and 'href="#user"' in response.text


def test_a_tampered_cookie_is_not_a_session(client: httpx.Client) -> None:
    _sign_in(client)
    signed = client.cookies[COOKIE]
    client.cookies.set(COOKIE, signed.replace("ehe_officer", "ig_officer")[:-2] + "xx")
    assert client.get("/audit").headers.get("location") == "/sign-in"


def test_a_form_without_the_session_token_is_refused(client: httpx.Client, index_url: str) -> None:
    token = _sign_in(client)
    before = _audit_count(index_url)
    forged = client.post("/summary", data={"identifier": "C-1", "purpose": "ehe_enquiry"})
    assert forged.status_code == 403 and "expired" in forged.text
    assert _audit_count(index_url) == before
    real = client.post(
        "/summary", data={"identifier": "C-unknown", "purpose": "ehe_enquiry", "csrf": token}
    )
    assert real.status_code == 404 and "recorded in the audit log" in real.text
    assert _audit_count(index_url) == before + 1


def test_a_role_that_may_not_look_up_is_refused_and_audited(
    client: httpx.Client, index_url: str
) -> None:
    client.post("/sign-in", data={"user": "data.engineer@la815.example"})
    token = re.search(r'name="csrf" value="([^"]+)"', client.get("/reviews").text)
    assert token and client.get("/search").status_code == 403
    response = client.post(
        "/summary", data={"identifier": "C-1", "purpose": "ehe_enquiry", "csrf": token.group(1)}
    )
    assert response.status_code == 403
    with session_factory(index_url)() as session:
        outcomes = session.scalars(select(AuditEntry.outcome)).all()
    assert outcomes == ["refused_role"]


def test_the_api_still_answers_in_json(client: httpx.Client) -> None:
    response = client.post("/api/v1/lookup", json={"purpose": "ehe_enquiry", "child_id": "C-1"})
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/json"
    assert "X-User" in response.json()["detail"]
    missing = client.get("/no-such-page")
    assert missing.status_code == 404 and "Not Found" in missing.text


def test_review_queue_lists_open_pairs_with_their_strongest_evidence(
    client: httpx.Client, index_url: str
) -> None:
    with session_factory(index_url).begin() as session:
        for n, status in ((1, "open"), (2, "accepted")):
            session.add(
                LinkReview(
                    left_source="education__ctf",
                    left_record_id=f"L{n}",
                    right_source="health__fhir_patient",
                    right_record_id=f"R{n}",
                    probability=0.95,
                    match_weights={"birth_date": 6.5, "given_name": -1.25, "postcode": 3.0},
                    model="m1",
                    status=status,
                )
            )
    client.post("/sign-in", data={"user": "data.engineer@la815.example"})
    page = client.get("/reviews")
    assert page.status_code == 200
    assert "L1" in page.text and "L2" not in page.text
    assert "birth_date +6.5, postcode +3.0, given_name -1.2" in page.text


def test_audit_explorer_pages_through_entries_and_keeps_the_filter(
    client: httpx.Client, index_url: str
) -> None:
    with session_factory(index_url).begin() as session:
        for n in range(120):
            who = Actor(f"user{n % 2}@la.example", "LA 815", "ehe_officer")
            append(session, AuditEvent(actor=who, action="lookup", outcome="not_found"))
    client.post("/sign-in", data={"user": "ig.officer@la815.example"})
    first = client.get("/audit", params={"user": "user0@la.example"})
    assert "60 entries match. Page 1 of 1" in first.text
    everyone = client.get("/audit")
    assert "121 entries match. Page 1 of 2" in everyone.text  # the first view is audited too
    link = re.search(r'href="(/audit\?[^"]*page=2[^"]*)"', everyone.text)
    assert link
    second = client.get(link.group(1).replace("&amp;", "&"))
    assert "Page 2 of 2" in second.text


def test_a_bad_query_gets_a_page_and_the_api_keeps_its_422(client: httpx.Client) -> None:
    client.post("/sign-in", data={"user": "ehe.officer@la815.example"})
    page = client.get("/worklist", params={"months": "0"})
    assert page.status_code == 400 and "Check what you entered" in page.text
    api = client.post(
        "/api/v1/lookup",
        json={"purpose": 5},
        headers={"X-User": "u", "X-Organisation": "o", "X-Role": "ehe_officer"},
    )
    assert api.status_code == 422 and api.headers["content-type"] == "application/json"
