"""Access policy over real HTTP: agreements, consent, restriction, break-glass, fail closed."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import httpx
import pytest
from api_server import CONSENT_EVIDENCE, bearer, serving
from index_builder import add_population
from sqlalchemy import select, text, update
from sqlalchemy.exc import DBAPIError

from gateway.access.agreements import decide, load_agreements
from gateway.access.audit import Actor, AuditEvent, append
from gateway.access.audit_integrity import chain_findings
from gateway.access.rate_limit import RateLimiter
from gateway.api.app import create_app
from gateway.errors import FatalConfigError
from gateway.store.engine import session_factory
from gateway.store.tables import AuditEntry, Child


@pytest.fixture
def api(index_url: str, data_dir: Path) -> Iterator[httpx.Client]:
    """The hand-made population (C-A: known to social care, on a child protection plan)."""
    with session_factory(index_url).begin() as session:
        add_population(session)
    with serving(create_app(index_url)) as client:
        yield client


def _child_known_to_social_care(index_url: str) -> str:
    return "C-A"


def _audit(index_url: str) -> list[AuditEntry]:
    with session_factory(index_url)() as session:
        return list(session.scalars(select(AuditEntry).order_by(AuditEntry.seq)))


def _lookup(api: httpx.Client, user: str, child_id: str, purpose: str) -> httpx.Response:
    return api.post(
        "/api/v1/lookup", json={"child_id": child_id, "purpose": purpose}, headers=bearer(user)
    )


def test_answers_are_minimised_to_the_clause_and_refusals_recorded(
    api: httpx.Client, index_url: str
) -> None:
    child_id = _child_known_to_social_care(index_url)
    ehe = _lookup(api, "erin.ehe", child_id, "ehe_enquiry")
    assert ehe.status_code == 200, ehe.text
    body = ehe.json()
    assert body["agreement_clause"] == "nyorks-ehe-2026#ehe-officers"
    assert body["summary"]["social_care"]["known"] is True
    assert body["summary"]["social_care"]["child_protection_plan"] == "current"
    health = _lookup(api, "hana.health", child_id, "safeguarding_duty").json()
    # The health clause shares no health records and no referral dates: withheld, and said so.
    assert health["agreement_clause"] == "nyorks-ehe-2026#health-safeguarding"
    assert "health" not in health["summary"]
    assert "first_referral_on" not in health["summary"]["social_care"]
    assert health["summary"]["known_to"] == ["education", "social_care"]
    assert {"health.gp_practice_ods", "social_care.first_referral_on"} <= set(
        health["fields_refused"]
    )
    refused = _lookup(api, "hana.health", child_id, "ehe_enquiry")
    assert refused.status_code == 403
    assert "no data-sharing agreement" in refused.json()["detail"]
    assert child_id not in refused.text
    assert _lookup(api, "dev.data", child_id, "safeguarding_duty").status_code == 403
    entries = _audit(index_url)
    assert [(e.actor, e.outcome) for e in entries] == [
        ("erin.ehe", "disclosed"),
        ("hana.health", "disclosed"),
        ("hana.health", "refused"),
        ("dev.data", "refused"),
    ]
    assert entries[0].fields_refused == body["fields_refused"]
    assert entries[1].fields_refused == health["fields_refused"]
    assert entries[1].agreement_clause == "nyorks-ehe-2026#health-safeguarding"
    assert "social_care.known" in entries[0].fields_disclosed
    assert entries[2].child_id == child_id and "no data-sharing agreement" in (
        entries[2].reason or ""
    )
    assert "social_care.known" in entries[2].fields_refused
    with session_factory(index_url)() as session:
        assert chain_findings(session) == []


def test_consent_is_needed_only_where_the_purpose_says_and_withdrawal_is_at_once(
    api: httpx.Client, index_url: str
) -> None:
    child_id = _child_known_to_social_care(index_url)
    assert _lookup(api, "erin.ehe", child_id, "ehe_enquiry").status_code == 200  # no consent
    first = _lookup(api, "erin.ehe", child_id, "voluntary_support")
    assert first.status_code == 403 and "consent" in first.json()["detail"]
    scope = {"child_id": child_id, "scope": "voluntary_support"}
    given = api.post(
        "/api/v1/consents", json={**scope, **CONSENT_EVIDENCE}, headers=bearer("erin.ehe")
    )
    assert given.status_code == 201, given.text
    assert _lookup(api, "erin.ehe", child_id, "voluntary_support").status_code == 200
    withdrawn = api.post("/api/v1/consents/withdraw", json=scope, headers=bearer("erin.ehe"))
    assert withdrawn.status_code == 200 and withdrawn.json()["in_force"] is False
    assert _lookup(api, "erin.ehe", child_id, "voluntary_support").status_code == 403
    outcomes = [(e.action, e.outcome) for e in _audit(index_url)]
    assert outcomes == [
        ("lookup", "disclosed"),
        ("lookup", "no_consent"),
        ("consent_given", "recorded"),
        ("lookup", "disclosed"),
        ("consent_withdrawn", "recorded"),
        ("lookup", "no_consent"),
    ]


def test_restricted_records_say_only_that_they_exist_and_whom_to_contact(
    api: httpx.Client, index_url: str
) -> None:
    child_id = _child_known_to_social_care(index_url)
    with session_factory(index_url).begin() as session:
        session.execute(update(Child).where(Child.child_id == child_id).values(restricted=True))
    answer = _lookup(api, "erin.ehe", child_id, "ehe_enquiry")
    assert answer.status_code == 200
    body = answer.json()
    assert body["outcome"] == "restricted" and body["restricted"] is True
    assert set(body["summary"]) == {"child_id", "restricted", "known_to"}
    assert "Information Governance" in body["notice"]
    assert {"health.gp_practice_ods", "education.last_school"} <= set(body["fields_refused"])
    # Break-glass: named roles only, typed reason, time-limited; location still withheld.
    short = {"child_id": child_id, "purpose": "ehe_enquiry", "reason": "urgent"}
    assert (
        api.post("/api/v1/break-glass", json=short, headers=bearer("erin.ehe")).status_code == 403
    )
    assert (
        api.post("/api/v1/break-glass", json=short, headers=bearer("sam.social")).status_code == 403
    )
    reason = "Police report the child missing tonight; need to know who has seen them."
    opened = api.post(
        "/api/v1/break-glass",
        json={"child_id": child_id, "purpose": "ehe_enquiry", "reason": reason},
        headers=bearer("sam.social"),
    )
    assert opened.status_code == 201, opened.text
    override = opened.json()
    glass = _lookup(api, "sam.social", child_id, "ehe_enquiry")
    assert glass.status_code == 200
    assert glass.json()["outcome"] == "break_glass"
    assert glass.json()["agreement_clause"] == f"break-glass:{override['id']}"
    assert "gp_practice_ods" not in glass.json()["summary"].get("health", {})
    assert "open_now" in glass.json()["summary"]["social_care"]
    assert api.get("/api/v1/break-glass/reviews", headers=bearer("sam.social")).status_code == 403
    reviews = api.get("/api/v1/break-glass/reviews", headers=bearer("iris.ig")).json()
    assert [r["id"] for r in reviews] == [override["id"]] and reviews[0]["reason"] == reason
    assert reviews[0]["uses"] == 1
    closed = api.post(
        f"/api/v1/break-glass/{override['id']}/close",
        json={"note": "Justified: police missing-person report seen."},
        headers=bearer("iris.ig"),
    )
    assert closed.status_code == 200 and closed.json()["review_state"] == "closed"
    assert api.get("/api/v1/break-glass/reviews", headers=bearer("iris.ig")).json() == []


def test_a_restricted_record_restricts_even_when_its_agency_is_not_shared(
    api: httpx.Client, index_url: str
) -> None:
    """C-A's health record is restricted; the health clause shares no health records."""
    from gateway.read_model import refresh_restricted
    from gateway.store.tables import SourceRecord

    with session_factory(index_url).begin() as session:
        row = session.scalars(select(SourceRecord).where(SourceRecord.record_id == "a3")).one()
        row.payload = {**row.payload, "identity": {**row.payload["identity"], "restricted": True}}
        row.restricted = True
        session.flush()
        refresh_restricted(session, ["C-A"])  # as loading a labelled version does
    answer = _lookup(api, "hana.health", "C-A", "safeguarding_duty").json()
    assert answer["outcome"] == "restricted" and answer["restricted"] is True
    assert "social_care.lead_team" in answer["fields_refused"]
    assert "lead_team" not in answer["summary"].get("social_care", {})


def test_a_lookup_whose_audit_cannot_be_written_fails_closed(
    api: httpx.Client, index_url: str
) -> None:
    child_id = _child_known_to_social_care(index_url)
    with session_factory(index_url).begin() as session:
        session.execute(text("ALTER TABLE audit_log RENAME TO audit_log_away"))
    try:
        failed = _lookup(api, "erin.ehe", child_id, "ehe_enquiry")
    finally:
        with session_factory(index_url).begin() as session:
            session.execute(text("ALTER TABLE audit_log_away RENAME TO audit_log"))
    assert failed.status_code == 503
    assert "nothing was disclosed" in failed.json()["detail"]
    assert "social_care" not in failed.text and child_id not in failed.text
    assert _audit(index_url) == []


@pytest.mark.parametrize("index_url", ["postgresql"], indirect=True)  # the trigger is PostgreSQL's
def test_audit_rows_cannot_be_changed_on_postgresql(index_url: str) -> None:
    with session_factory(index_url).begin() as session:
        append(session, AuditEvent(Actor("u", "o", "ig_officer"), "lookup", "disclosed"))
    for statement in (
        "UPDATE audit_log SET child_id = 'C-other'",
        "DELETE FROM audit_log",
        "TRUNCATE audit_log",
    ):
        with pytest.raises(DBAPIError, match="append-only"):
            with session_factory(index_url).begin() as session:
                session.execute(text(statement))
    assert len(_audit(index_url)) == 1


def test_rate_limit_answers_429_with_retry_after(index_url: str, data_dir: Path) -> None:
    app = create_app(index_url, rate_limiter=RateLimiter(per_minute=6, burst=2))
    with serving(app) as client:
        codes = [
            client.post(
                "/api/v1/lookup",
                json={"purpose": "ehe_enquiry", "child_id": "C-none"},
                headers=bearer("erin.ehe"),
            )
            for _ in range(3)
        ]
        other = client.post(
            "/api/v1/lookup",
            json={"purpose": "ehe_enquiry", "child_id": "C-none"},
            headers=bearer("iris.ig"),
        )
    assert [c.status_code for c in codes] == [404, 404, 429]
    assert int(codes[2].headers["Retry-After"]) >= 1
    assert other.status_code == 404  # limits are per user


def test_agreements_are_checked_on_load_with_every_error_at_once(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text(
        """
id: bad-one
title: Bad
parties:
  - {organisation: A, contact: a}
  - {organisation: B, contact: b}
restricted_contact: ask A
review: {agreed_on: 2026-01-01, review_by: 2025-01-01}
clauses:
  - id: c1
    recipients: {organisations: [Z], roles: [wizard]}
    purposes: [curiosity]
    sources: [education]
    fields: [education.*, health.clinical_notes]
    basis: none
"""
    )
    with pytest.raises(FatalConfigError) as caught:
        load_agreements(tmp_path)
    message = str(caught.value)
    for problem in ("review_by must come after", "wizard", "curiosity", "health.clinical_notes"):
        assert problem in message


def test_an_expired_agreement_shares_nothing_and_says_so() -> None:
    agreements = load_agreements()
    erin = Actor("erin.ehe", "North Yorkshire Council", "ehe_officer")
    assert decide(agreements, erin, "ehe_enquiry", date(2026, 12, 1)).allowed
    lapsed = decide(agreements, erin, "ehe_enquiry", date(2027, 6, 1))
    assert not lapsed.allowed and lapsed.fields == frozenset()
    assert "passed its review date" in lapsed.reason and "nyorks-ehe-2026" in lapsed.reason
