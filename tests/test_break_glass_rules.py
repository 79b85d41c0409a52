"""Who may break the glass comes from the agreements (roles at a party, for a purpose the
agreement covers), the reason must be words, and one override per child and purpose may be open
for IG review at a time; IG sees each user's overrides. On SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from api_server import bearer, serving
from index_builder import add_population

from gateway import clock
from gateway.access.agreements import load_agreements, may_break_glass
from gateway.access.audit import Actor
from gateway.access.break_glass import BreakGlassRefusedError, open_break_glass, reason_problem
from gateway.api.app import create_app
from gateway.store.engine import session_factory

REASON = "Police report the child missing overnight; need to know who holds the case now"
SOCIAL = Actor("sam.social", "North Yorkshire Council Children's Social Care", "social_worker")


@pytest.fixture
def api(index_url: str, data_dir: Path) -> Iterator[httpx.Client]:
    with session_factory(index_url).begin() as session:
        add_population(session)
    with serving(create_app(index_url)) as client:
        yield client


def test_the_agreements_name_who_may_break_the_glass() -> None:
    agreements = load_agreements()
    today = clock.today()
    assert may_break_glass(agreements, SOCIAL, "ehe_enquiry", today)
    elsewhere = Actor("sam.elsewhere", "A Council Party To Nothing", "social_worker")
    assert not may_break_glass(agreements, elsewhere, "ehe_enquiry", today)
    officer = Actor("erin.ehe", "North Yorkshire Council", "ehe_officer")
    assert not may_break_glass(agreements, officer, "child_protection", today)
    after_review = today.replace(year=today.year + 1)
    assert not may_break_glass(agreements, SOCIAL, "ehe_enquiry", after_review)


def test_a_party_to_no_agreement_cannot_break_the_glass(index_url: str) -> None:
    elsewhere = Actor("sam.elsewhere", "A Council Party To Nothing", "social_worker")
    with session_factory(index_url)() as session, pytest.raises(BreakGlassRefusedError):
        open_break_glass(
            session, elsewhere, "C-A", "ehe_enquiry", REASON, agreements=load_agreements()
        )


@pytest.mark.parametrize("reason", ["a" * 40, "urgent urgent urgent", "x y z w v u t s r q"])
def test_a_reason_must_say_why_in_words(reason: str) -> None:
    assert reason_problem(reason) is not None
    assert reason_problem(REASON) is None


def test_one_override_per_child_and_purpose_is_open_for_review_at_a_time(
    api: httpx.Client,
) -> None:
    body = {"child_id": "C-A", "purpose": "ehe_enquiry", "reason": REASON}
    first = api.post("/api/v1/break-glass", json=body, headers=bearer("sam.social"))
    assert first.status_code == 201, first.text
    again = api.post("/api/v1/break-glass", json=body, headers=bearer("sam.social"))
    assert again.status_code == 403 and "still open for IG review" in again.text
    other = {**body, "child_id": "C-B"}
    assert api.post("/api/v1/break-glass", json=other, headers=bearer("sam.social")).is_success
    by_user = api.get("/api/v1/break-glass/by-user", headers=bearer("iris.ig")).json()
    assert by_user == [
        {
            "user": "sam.social",
            "organisation": SOCIAL.organisation,
            "overrides": 2,
            "open_for_review": 2,
        }
    ]
    closed = api.post(
        f"/api/v1/break-glass/{first.json()['id']}/close",
        json={"note": "Checked with the team manager: justified."},
        headers=bearer("iris.ig"),
    )
    assert closed.status_code == 200
    reopened = api.post("/api/v1/break-glass", json=body, headers=bearer("sam.social"))
    assert reopened.status_code == 201
    mine = api.get(
        "/api/v1/break-glass/reviews",
        params={"state": "all", "user": "sam.social"},
        headers=bearer("iris.ig"),
    ).json()
    assert len(mine) == 3
