"""Requesting break-glass from the web: offered where the agreement refuses a named role, with a
typed reason, audited like the API's, and on the IG review list before the record is shown."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from api_server import bearer
from index_builder import add_population
from sqlalchemy import select
from web_support import served

from gateway.api.app import create_app
from gateway.store.engine import session_factory
from gateway.store.tables import AuditEntry

pytestmark = pytest.mark.parametrize("index_url", ["sqlite"], indirect=True)
REASON = "Child seen with injuries at a home visit; school place unknown"


@pytest.fixture
def client(index_url: str, data_dir: Path) -> Iterator[httpx.Client]:
    with session_factory(index_url).begin() as session:
        add_population(session)
    with served(create_app(index_url)) as base, httpx.Client(base_url=base, timeout=10) as http:
        yield http


def _signed_in(client: httpx.Client, user: str) -> str:
    assert client.post("/sign-in", data={"user": user}).status_code == 303
    found = re.search(r'name="csrf" value="([^"]+)"', client.get("/").text)
    assert found
    return found.group(1)


def _look_up(client: httpx.Client, token: str, child: str, purpose: str) -> httpx.Response:
    return client.post("/summary", data={"identifier": child, "purpose": purpose, "csrf": token})


def _audit(index_url: str) -> list[AuditEntry]:
    with session_factory(index_url)() as session:
        return list(session.scalars(select(AuditEntry).order_by(AuditEntry.seq)))


def test_a_social_worker_refused_by_the_agreement_can_break_the_glass(
    client: httpx.Client, index_url: str
) -> None:
    token = _signed_in(client, "sam.social")
    refused = _look_up(client, token, "C-A", "ehe_enquiry")
    assert refused.status_code == 403
    assert "Break the glass" in refused.text and 'action="/summary/break-glass"' in refused.text
    assert 'name="identifier" value="C-A"' in refused.text  # POSTed again, never in a URL
    form = {"identifier": "C-A", "purpose": "ehe_enquiry", "csrf": token}
    forged = client.post("/summary/break-glass", data={**form, "csrf": "x", "reason": REASON})
    assert forged.status_code == 403  # no form token, no override
    short = client.post("/summary/break-glass", data={**form, "reason": "urgent"})
    assert short.status_code == 400 and "at least 20 characters" in short.text
    assert "govuk-error-summary" in short.text
    shown = client.post("/summary/break-glass", data={**form, "reason": REASON})
    assert shown.status_code == 200, shown.text
    assert "Who else knows this child" in shown.text
    assert "Shown under a break-glass override" in shown.text
    entries = [(e.action, e.outcome) for e in _audit(index_url)]
    assert entries == [
        ("sign_in", "signed_in"),
        ("lookup", "refused"),
        ("break_glass", "refused"),
        ("break_glass", "recorded"),
        ("lookup", "break_glass"),
    ]
    listed = client.get("/api/v1/break-glass/reviews", headers=bearer("iris.ig")).json()
    assert [(o["user"], o["reason"], o["review_state"], o["uses"]) for o in listed] == [
        ("sam.social", REASON, "open", 1)
    ]
    clause = [e for e in _audit(index_url) if e.action == "lookup"][-1].agreement_clause
    assert clause == f"break-glass:{listed[0]['id']}"
    again = _look_up(client, token, "C-A", "ehe_enquiry")  # the override lasts its time
    assert again.status_code == 200 and "break-glass override" in again.text


def test_break_glass_is_offered_only_to_named_roles_and_only_for_agreement_refusals(
    client: httpx.Client, index_url: str
) -> None:
    token = _signed_in(client, "dev.data")
    refused = _look_up(client, token, "C-A", "ehe_enquiry")
    assert refused.status_code == 403 and "Break the glass" not in refused.text
    form = {"identifier": "C-A", "purpose": "ehe_enquiry", "reason": REASON, "csrf": token}
    assert client.post("/summary/break-glass", data=form).status_code == 403
    client.post("/sign-out", data={"csrf": token})

    token = _signed_in(client, "erin.ehe")
    no_consent = _look_up(client, token, "C-B", "voluntary_support")
    assert no_consent.status_code == 403 and "consent" in no_consent.text
    assert "Break the glass" not in no_consent.text
    assert not [
        e for e in _audit(index_url) if e.action == "break_glass" and e.outcome != "refused"
    ]
