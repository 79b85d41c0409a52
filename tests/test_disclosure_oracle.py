"""One oracle for disclosure: every route that shows a child, asked as each role would, for a
child that is ordinary, restricted by a label on another agency's record, or merged, must
show no more than the policy allows. Each leak a review found is a row here.

The hidden child (C-X) is restricted only through its health record (a PDS S-flag); its
education record carries no label. It was removed from roll to home education while open to
social care, so every view has something to say about it, and nothing may be said.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from api_server import CONSENT_EVIDENCE, bearer
from index_builder import CARE, EHE, HEALTH, PAIR_WEIGHTS, add_child, add_population, record
from sqlalchemy import select
from web_support import served

from gateway.api.app import create_app
from gateway.read_model import refresh_restricted
from gateway.store.engine import session_factory
from gateway.store.tables import AuditEntry, Child, LinkReview

HIDDEN = "C-X"
POSTCODE = "YO62 5AB"
# Facts about the hidden child that no view may show, by any route, to anyone (no break-glass).
SECRETS = ("2026-03-02", "2026-03-01", "Scarborough Child Protection", "B82099", "2026-10-20")


def _who(postcode: str) -> dict[str, Any]:
    return {
        "given_name": "Esme",
        "family_name": "Thorne",
        "birth_date": "2014-09-09",
        "sex": "female",
        "addresses": [{"lines": ["2 Hidden Lane"], "postcode": postcode}],
    }


@pytest.fixture
def index(index_url: str, data_dir: Path) -> str:
    with session_factory(index_url).begin() as session:
        add_population(session)
        health = record(
            HEALTH,
            "x3",
            _who(POSTCODE),
            health={"gp_practice_ods": "B82099"},
            contacts=[{"kind": "attended appointment", "on": "2026-10-20"}],
        )
        health["identity"]["restricted"] = True  # the only label: on the health record
        add_child(
            session,
            HIDDEN,
            [
                record(
                    EHE,
                    "x1",
                    _who(POSTCODE),
                    education={
                        "enrolments": [
                            {
                                "school_id": "1234567",
                                "entry_date": "2019-09-01",
                                "leaving_date": "2026-03-01",
                                "leaving_reason": "EHE",
                            }
                        ],
                        "ehe": [{"registered_on": "2026-03-02"}],
                    },
                ),
                record(
                    CARE,
                    "x2",
                    _who(POSTCODE),
                    social_care={
                        "referrals": [{"start_date": "2025-05-01"}],
                        "child_protection_plans": [{"start_date": "2025-06-01"}],
                        "lead_team": "Scarborough Child Protection",
                    },
                ),
                health,
            ],
        )
        session.flush()
        refresh_restricted(session, [HIDDEN])  # as loading and linking do
        # A merged child whose survivor is the hidden child: reached by its old id.
        session.add(Child(child_id="C-X-OLD", restricted=False, merged_into=HIDDEN))
        # A review pair between the hidden child's unlabelled EHE record and a stranger's.
        add_child(session, "C-S", [record(EHE, "s1", _who("YO62 5AB"))])
        session.add(
            LinkReview(
                left_source=EHE,
                left_record_id="x1",
                right_source=EHE,
                right_record_id="s1",
                probability=0.93,
                match_weights=PAIR_WEIGHTS,
                model="test-model",
                status="open",
            )
        )
    with session_factory(index_url)() as session:
        assert session.get(Child, HIDDEN).restricted  # type: ignore[union-attr]
    return index_url


@pytest.fixture
def client(index: str) -> Iterator[httpx.Client]:
    with served(create_app(index)) as base, httpx.Client(base_url=base, timeout=20) as http:
        yield http


def _no_secret(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text, f"{secret!r} disclosed"
    assert POSTCODE not in text and "Hidden Lane" not in text


def _sign_in(client: httpx.Client, user: str) -> str:
    assert client.post("/sign-in", data={"user": user}).status_code == 303
    page = client.get("/search").text
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found is not None
    return found.group(1)


@pytest.mark.parametrize(
    ("user", "purpose"),
    [
        ("erin.ehe", "ehe_enquiry"),
        ("sam.social", "child_protection"),
        ("hana.health", "safeguarding_duty"),
    ],
)
def test_lookup_by_any_id_shows_existence_and_whom_to_contact(
    client: httpx.Client, user: str, purpose: str
) -> None:
    for child_id in (HIDDEN, "C-X-OLD"):  # directly, and through a merge
        answer = client.post(
            "/api/v1/lookup",
            json={"child_id": child_id, "purpose": purpose},
            headers=bearer(user),
        )
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["restricted"] is True and body["outcome"] == "restricted"
        assert body["notice"] and "Information Governance" in body["notice"]
        assert set(body["summary"]) <= {"child_id", "restricted", "known_to"}
        _no_secret(answer.text)


@pytest.mark.parametrize(
    ("user", "purpose"),
    [("erin.ehe", "ehe_enquiry"), ("hana.health", "safeguarding_duty")],
)
def test_caseload_row_of_a_restricted_child_is_existence_and_contact_only(
    client: httpx.Client, user: str, purpose: str
) -> None:
    answer = client.get("/api/v1/caseload", params={"purpose": purpose}, headers=bearer(user))
    assert answer.status_code == 200, answer.text
    rows = {row["child_id"]: row for row in answer.json()}
    if user == "erin.ehe":
        hidden = rows[HIDDEN]
        shown = {k for k, v in hidden.items() if v not in (None, [], False)}
        assert shown == {"child_id", "restricted", "notice"}
        assert list(rows)[-1] == HIDDEN  # its facts do not order the list
    _no_secret(answer.text)


def test_caseload_under_a_health_clause_derives_nothing_from_what_it_withholds(
    client: httpx.Client,
) -> None:
    """The health clause shares no education dates or leaving reason and no health records:
    nobody is 'last seen by education', nobody 'removed to home education', and 'unseen'
    cannot be known from what it shares."""
    answer = client.get(
        "/api/v1/caseload", params={"purpose": "safeguarding_duty"}, headers=bearer("hana.health")
    )
    assert answer.status_code == 200, answer.text
    for row in answer.json():
        assert row["last_seen_by"] is None and row["last_seen_by_any_agency"] is None
        assert row["removed_to_home_education"] in (None, False)
        assert row["left_roll_on"] is None and row["last_health_contact"] is None
        assert row["unseen"] is None
        assert "health" not in row["known_to"]
        assert not any("seen" in reason or "removed" in reason for reason in row["reasons"])


def test_web_caseload_shows_the_restricted_child_only_as_existing(client: httpx.Client) -> None:
    _sign_in(client, "erin.ehe")
    page = client.get("/worklist")
    assert page.status_code == 200
    assert HIDDEN in page.text and "Restricted record" in page.text
    _no_secret(page.text)


def _search(client: httpx.Client, user: str, purpose: str, postcode: str | None) -> Any:
    body = {
        "given_name": "Esme",
        "family_name": "Thorne",
        "birth_date": "2014-09-09",
        "postcode": postcode,
        "purpose": purpose,
    }
    answer = client.post("/api/v1/search", json=body, headers=bearer(user))
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_search_is_no_oracle_for_where_a_restricted_child_lives(client: httpx.Client) -> None:
    """The right postcode, a wrong one and none give the hidden child the same answer."""
    answers = [
        next(
            c
            for c in _search(client, "erin.ehe", "ehe_enquiry", postcode)
            if c["child_id"] == HIDDEN
        )
        for postcode in (POSTCODE, "LS1 4AP", None)
    ]
    assert answers[0] == answers[1] == answers[2]
    assert not any(r["comparison"] == "place" and r["weight"] for r in answers[0]["reasons"])
    # An ordinary child (the stranger, same name and birth date) is still scored on place.
    stranger = [
        next(c for c in _search(client, "erin.ehe", "ehe_enquiry", p) if c["child_id"] == "C-S")
        for p in (POSTCODE, "LS1 4AP")
    ]
    assert stranger[0]["score"] > stranger[1]["score"]


def test_search_names_only_the_agencies_the_clause_covers(client: httpx.Client) -> None:
    for candidate in _search(client, "hana.health", "safeguarding_duty", None):
        assert set(candidate["known_to"]) <= {"education", "social_care"}
    officer = _search(client, "erin.ehe", "ehe_enquiry", None)
    assert any("health" in c["known_to"] for c in officer)


def test_review_pair_withholds_an_address_restricted_through_the_child(
    client: httpx.Client, index: str
) -> None:
    with session_factory(index)() as session:
        review_id = session.scalar(select(LinkReview.id).where(LinkReview.left_record_id == "x1"))
    shown = client.get(f"/api/v1/reviews/{review_id}", headers=bearer("dev.data"))
    assert shown.status_code == 200, shown.text
    by_field = {f["field"]: f for f in shown.json()["fields"]}
    withheld = [f for f in by_field.values() if f["withheld"]]
    assert withheld and all("restricted" in f["left"] for f in withheld)
    assert POSTCODE not in str([f["left"] for f in shown.json()["fields"]])


def _entries(index: str) -> list[AuditEntry]:
    with session_factory(index)() as session:
        return list(session.scalars(select(AuditEntry).order_by(AuditEntry.seq)))


def test_every_refusal_is_audited(client: httpx.Client, index: str) -> None:
    """A bad identifier (422), an unknown child for consent or break-glass (404), the web's
    break-glass refused by role, and the IG list of overrides: each leaves an entry."""
    bad = client.post(
        "/api/v1/lookup",
        json={"nhs_number": "9991234561", "purpose": "ehe_enquiry"},
        headers=bearer("erin.ehe"),
    )
    assert bad.status_code == 422
    unknown = client.post(
        "/api/v1/consents",
        json={"child_id": "C-NOBODY", "scope": "voluntary_support", **CONSENT_EVIDENCE},
        headers=bearer("erin.ehe"),
    )
    assert unknown.status_code == 404
    glass = client.post(
        "/api/v1/break-glass",
        json={"child_id": "C-NOBODY", "purpose": "child_protection", "reason": "x" * 30},
        headers=bearer("sam.social"),
    )
    assert glass.status_code == 404
    listed = client.get("/api/v1/break-glass/reviews", headers=bearer("iris.ig"))
    assert listed.status_code == 200
    token = _sign_in(client, "erin.ehe")
    web_glass = client.post(
        "/summary/break-glass",
        data={"identifier": HIDDEN, "purpose": "ehe_enquiry", "reason": "x" * 30, "csrf": token},
    )
    assert web_glass.status_code == 403
    seen = [(e.action, e.outcome) for e in _entries(index)]
    assert seen == [
        ("lookup", "bad_identifier"),
        ("consent_given", "not_found"),
        ("break_glass", "not_found"),
        ("break_glass_reviews", "disclosed"),
        ("sign_in", "signed_in"),
        ("break_glass", "refused"),
    ]


def test_web_pages_are_rate_limited_like_the_api(index: str) -> None:
    from gateway.access.rate_limit import RateLimiter

    app = create_app(index, rate_limiter=RateLimiter(per_minute=1, burst=3))
    with served(app) as base, httpx.Client(base_url=base, timeout=20) as client:
        assert client.post("/sign-in", data={"user": "erin.ehe"}).status_code == 303
        codes = [client.get("/worklist").status_code for _ in range(5)]
    assert codes[:3] == [200, 200, 200] and codes[3:] == [429, 429]


def test_lists_under_a_consent_purpose_hold_only_children_whose_consent_is_in_force(
    client: httpx.Client,
) -> None:
    def listed() -> tuple[list[str], list[str]]:
        caseload = client.get(
            "/api/v1/caseload", params={"purpose": "voluntary_support"}, headers=bearer("erin.ehe")
        )
        assert caseload.status_code == 200, caseload.text
        found = client.post(
            "/api/v1/search",
            json={
                "given_name": "Amelia",
                "family_name": "Hart",
                "birth_date": "2015-03-07",
                "purpose": "voluntary_support",
            },
            headers=bearer("erin.ehe"),
        )
        assert found.status_code == 200, found.text
        return [e["child_id"] for e in caseload.json()], [c["child_id"] for c in found.json()]

    assert listed() == ([], [])
    consent = {"child_id": "C-A", "scope": "voluntary_support"}
    given = {**consent, **CONSENT_EVIDENCE}
    assert client.post("/api/v1/consents", json=given, headers=bearer("erin.ehe")).is_success
    assert listed() == (["C-A"], ["C-A"])
    withdrawn = client.post("/api/v1/consents/withdraw", json=consent, headers=bearer("erin.ehe"))
    assert withdrawn.is_success
    assert listed() == ([], [])
