"""Consent is recorded with its evidence (who gave it, when, how, a reference) and who recorded
it, only by roles the data-sharing agreement names for it (``consent_roles``), never by an
administrator or a party to no agreement; through the API and the web form, every attempt
audited. On SQLite and PostgreSQL."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import httpx
import pytest
import yaml
from api_server import CONSENT_EVIDENCE, bearer
from index_builder import add_population
from sqlalchemy import select
from web_support import served

from gateway import clock
from gateway.access.agreements import load_agreements, may_record_consent
from gateway.access.audit import Actor
from gateway.access.consent import ConsentEvidence, ConsentRefusedError, record_consent
from gateway.api.app import create_app
from gateway.errors import FatalConfigError
from gateway.store.engine import session_factory
from gateway.store.tables import AuditEntry, Consent

ROOT = Path(__file__).resolve().parents[1]
ERIN = Actor("erin.ehe", "North Yorkshire Council", "ehe_officer")
ADMIN = Actor("ada.admin", "North Yorkshire Council", "admin")
GIVEN = {"child_id": "C-B", "scope": "voluntary_support", **CONSENT_EVIDENCE}


@pytest.fixture
def client(index_url: str, data_dir: Path) -> Iterator[httpx.Client]:
    with session_factory(index_url).begin() as session:
        add_population(session)
    with served(create_app(index_url)) as base, httpx.Client(base_url=base, timeout=20) as http:
        yield http


def _audit(index_url: str) -> list[tuple[str, str]]:
    """The audit entries about children and consent (a web sign-in's own entry left out)."""
    with session_factory(index_url)() as session:
        entries = session.scalars(select(AuditEntry).where(AuditEntry.action != "sign_in"))
        return [(e.action, e.outcome) for e in entries]


def _consents(index_url: str) -> list[Consent]:
    with session_factory(index_url)() as session:
        return list(session.scalars(select(Consent).order_by(Consent.id)))


def test_the_agreement_names_who_may_record_consent() -> None:
    agreements = load_agreements()
    today = clock.today()
    assert may_record_consent(agreements, ERIN, "voluntary_support", today)
    assert not may_record_consent(agreements, ADMIN, "voluntary_support", today)
    elsewhere = Actor("erin.elsewhere", "A Council Party To Nothing", "ehe_officer")
    assert not may_record_consent(agreements, elsewhere, "voluntary_support", today)
    social = Actor("sam.social", "North Yorkshire Council Children's Social Care", "social_worker")
    assert not may_record_consent(agreements, social, "voluntary_support", today)
    after_review = today.replace(year=today.year + 1)
    assert not may_record_consent(agreements, ERIN, "voluntary_support", after_review)


def test_an_unknown_consent_role_in_an_agreement_is_refused_on_load(tmp_path: Path) -> None:
    document = yaml.safe_load((ROOT / "agreements" / "north_yorkshire_ehe.yaml").read_text())
    document["consent_roles"] = ["ehe_officer", "headteacher"]
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(document))
    with pytest.raises(FatalConfigError, match="consent_roles: unknown role 'headteacher'"):
        load_agreements(tmp_path)


def test_consent_is_stored_with_its_evidence_and_recorder(
    client: httpx.Client, index_url: str
) -> None:
    given = client.post("/api/v1/consents", json=GIVEN, headers=bearer("erin.ehe"))
    assert given.status_code == 201, given.text
    (consent,) = _consents(index_url)
    assert (consent.given_by, consent.given_on, consent.method, consent.evidence_ref) == (
        "parent",
        date(2026, 11, 20),
        "written",
        "EHE-CONSENT-0001",
    )
    assert (consent.recorded_by, consent.recorded_by_organisation, consent.recorded_by_role) == (
        ERIN.user,
        ERIN.organisation,
        ERIN.role,
    )
    assert given.json()["consent_id"] == consent.id
    with session_factory(index_url)() as session:
        entry = session.scalars(select(AuditEntry)).one()
    assert entry.agreement_clause == f"consent:{consent.id}"
    assert entry.reason == "given by parent, written, on 2026-11-20"
    assert "EHE-CONSENT" not in (entry.reason or ""), "the typed reference stays out of the log"


def test_an_administrator_or_a_role_not_named_cannot_record_or_withdraw_consent(
    client: httpx.Client, index_url: str
) -> None:
    for user in ("ada.admin", "sam.social", "dev.data"):
        refused = client.post("/api/v1/consents", json=GIVEN, headers=bearer(user))
        assert refused.status_code == 403, (user, refused.text)
        assert "no data-sharing agreement lets your role" in refused.json()["detail"]
    assert client.post("/api/v1/consents", json=GIVEN, headers=bearer("erin.ehe")).is_success
    withdraw = {"child_id": "C-B", "scope": "voluntary_support"}
    denied = client.post("/api/v1/consents/withdraw", json=withdraw, headers=bearer("ada.admin"))
    assert denied.status_code == 403
    assert _consents(index_url)[0].withdrawn_at is None
    assert _audit(index_url) == [
        ("consent_given", "refused"),
        ("consent_given", "refused"),
        ("consent_given", "refused"),
        ("consent_given", "recorded"),
        ("consent_withdrawn", "refused"),
    ]


@pytest.mark.parametrize(
    ("change", "status"),
    [
        ({"given_by": None}, 422),
        ({"given_by": "neighbour"}, 422),
        ({"method": "telepathy"}, 422),
        ({"evidence_ref": ""}, 422),
        ({"given_on": "2026-12-25"}, 422),  # after the test day: in the future
    ],
)
def test_consent_without_its_evidence_is_refused(
    client: httpx.Client, index_url: str, change: dict[str, str | None], status: int
) -> None:
    body = {k: v for k, v in {**GIVEN, **change}.items() if v is not None}
    refused = client.post("/api/v1/consents", json=body, headers=bearer("erin.ehe"))
    assert refused.status_code == status, refused.text
    assert _consents(index_url) == []


def test_a_blank_reference_is_refused_by_the_core_too(index_url: str) -> None:
    evidence = ConsentEvidence("carer", date(2026, 11, 1), "verbal", "   ")
    with session_factory(index_url)() as session, pytest.raises(ConsentRefusedError):
        record_consent(session, ERIN, "C-B", "voluntary_support", evidence, agreements=[])
    with session_factory(index_url)() as session, pytest.raises(ConsentRefusedError, match="ref"):
        agreements = load_agreements()
        record_consent(session, ERIN, "C-B", "voluntary_support", evidence, agreements=agreements)


def _signed_in(client: httpx.Client, user: str) -> str:
    assert client.post("/sign-in", data={"user": user}).status_code == 303
    found = re.search(r'name="csrf" value="([^"]+)"', client.get("/").text)
    assert found
    return found.group(1)


def test_the_web_form_records_consent_with_its_evidence_then_shows_the_record(
    client: httpx.Client, index_url: str
) -> None:
    token = _signed_in(client, "erin.ehe")
    lookup = {"identifier": "C-B", "purpose": "voluntary_support", "csrf": token}
    refused = client.post("/summary", data=lookup)
    assert refused.status_code == 403
    assert "Record the family's consent" in refused.text
    assert 'action="/summary/consent"' in refused.text
    missing = client.post("/summary/consent", data={**lookup, "given_by": "parent"})
    assert missing.status_code == 400 and "govuk-error-summary" in missing.text
    assert (
        "Say how consent was given" in missing.text and "reference to the evidence" in missing.text
    )
    assert 'value="parent" checked' in missing.text, "what was typed is kept"
    forged = {**lookup, **CONSENT_EVIDENCE, "csrf": "x"}
    assert client.post("/summary/consent", data=forged).status_code == 403
    shown = client.post("/summary/consent", data={**lookup, **CONSENT_EVIDENCE})
    assert shown.status_code == 200, shown.text
    (consent,) = _consents(index_url)
    assert (consent.given_by, consent.method, consent.recorded_by) == (
        "parent",
        "written",
        "erin.ehe",
    )
    assert _audit(index_url) == [
        ("lookup", "no_consent"),
        ("consent_given", "recorded"),
        ("lookup", "disclosed"),
    ]


def test_the_web_form_is_not_offered_to_a_role_not_named_and_refuses_it(
    client: httpx.Client, index_url: str
) -> None:
    token = _signed_in(client, "ada.admin")
    lookup = {"identifier": "C-B", "purpose": "voluntary_support", "csrf": token}
    assert "Record the family" not in client.post("/summary", data=lookup).text
    posted = client.post("/summary/consent", data={**lookup, **CONSENT_EVIDENCE})
    assert posted.status_code == 403
    assert client.post("/summary/consent/withdraw", data=lookup).status_code == 403
    assert _consents(index_url) == []
    audit = _audit(index_url)
    assert ("consent_given", "refused") in audit and ("consent_withdrawn", "refused") in audit


def test_what_was_typed_is_shown_back_escaped(client: httpx.Client) -> None:
    """A script typed as the evidence reference comes back as text, never as markup."""
    token = _signed_in(client, "erin.ehe")
    typed = '"><script>alert(1)</script>'
    form = {"identifier": "C-B", "purpose": "voluntary_support", "csrf": token}
    answer = client.post("/summary/consent", data={**form, "evidence_ref": typed})
    assert answer.status_code == 400
    assert "<script>alert(1)</script>" not in answer.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in answer.text
    assert "script-src 'self'" in answer.headers["content-security-policy"]


def test_the_subject_access_export_holds_each_consent_with_its_evidence(
    client: httpx.Client, index_url: str
) -> None:
    from gateway.reports.subject_access import audited_subject_access

    assert client.post("/api/v1/consents", json=GIVEN, headers=bearer("erin.ehe")).is_success
    withdraw = {"child_id": "C-B", "scope": "voluntary_support"}
    assert client.post("/api/v1/consents/withdraw", json=withdraw, headers=bearer("erin.ehe"))
    ig = Actor("iris.ig", "North Yorkshire Council", "ig_officer")
    with session_factory(index_url)() as session:
        export = audited_subject_access(session, ig, "C-B")
    (consent,) = export["consents"]
    assert {k: consent[k] for k in ("given_by", "given_on", "method", "evidence_ref")} == {
        **{k: CONSENT_EVIDENCE[k] for k in ("given_by", "given_on", "method", "evidence_ref")}
    }
    assert consent["recorded_by"] == "erin.ehe" and consent["withdrawn_recorded_by"] == "erin.ehe"


def test_the_web_form_names_every_missing_piece_at_once(client: httpx.Client) -> None:
    token = _signed_in(client, "erin.ehe")
    form = {"identifier": "C-B", "purpose": "voluntary_support", "csrf": token}
    answer = client.post("/summary/consent", data={**form, "given_on": "2027-01-01"})
    assert answer.status_code == 400
    for message in (
        "Say who gave consent",
        "Say how consent was given",
        "cannot be in the future",
        "reference to the evidence",
    ):
        assert message in answer.text, message


def test_ig_lists_a_child_s_consents_with_their_evidence_and_the_listing_is_audited(
    client: httpx.Client, index_url: str
) -> None:
    assert client.post("/api/v1/consents", json=GIVEN, headers=bearer("erin.ehe")).is_success
    asked = {"child_id": "C-B"}
    listed = client.post("/api/v1/consents/of-child", json=asked, headers=bearer("iris.ig"))
    assert listed.status_code == 200, listed.text
    (consent,) = listed.json()
    assert (consent["given_by"], consent["method"], consent["evidence_ref"]) == (
        "parent",
        "written",
        "EHE-CONSENT-0001",
    )
    assert consent["recorded_by_role"] == "ehe_officer" and consent["withdrawn_at"] is None
    refused = client.post("/api/v1/consents/of-child", json=asked, headers=bearer("erin.ehe"))
    assert refused.status_code == 403
    nobody = {"child_id": "C-NOBODY"}
    assert (
        client.post("/api/v1/consents/of-child", json=nobody, headers=bearer("iris.ig")).status_code
        == 404
    )
    assert _audit(index_url)[-2:] == [("consent_list", "disclosed"), ("consent_list", "not_found")]


def test_the_summary_offers_the_withdrawal_and_it_is_honoured_at_once(
    client: httpx.Client, index_url: str
) -> None:
    token = _signed_in(client, "erin.ehe")
    lookup = {"identifier": "C-B", "purpose": "voluntary_support", "csrf": token}
    shown = client.post("/summary/consent", data={**lookup, **CONSENT_EVIDENCE})
    assert shown.status_code == 200 and 'action="/summary/consent/withdraw"' in shown.text
    ehe = client.post("/summary", data={**lookup, "purpose": "ehe_enquiry"})
    assert ehe.status_code == 200 and "consent/withdraw" not in ehe.text, "only where it counts"
    withdrawn = client.post("/summary/consent/withdraw", data=lookup)
    assert withdrawn.status_code == 403 and "needs the family&#39;s consent" in withdrawn.text
    again = client.post("/summary/consent/withdraw", data=lookup)
    assert again.status_code == 404
    assert _consents(index_url)[0].withdrawn_recorded_by == "erin.ehe"
    assert _audit(index_url) == [
        ("consent_given", "recorded"),
        ("lookup", "disclosed"),
        ("lookup", "disclosed"),
        ("consent_withdrawn", "recorded"),
        ("lookup", "no_consent"),
        ("consent_withdrawn", "not_found"),
    ]
