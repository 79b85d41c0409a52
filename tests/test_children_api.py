"""Search by demographics, the EHE caseload and IG audit queries, over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import httpx
import pytest
from api_server import bearer, serving
from index_builder import add_population
from sqlalchemy import select, text, update
from typer.testing import CliRunner

from gateway.api.app import create_app
from gateway.cli import app as cli
from gateway.lookup.caseload import ehe_caseload
from gateway.store.engine import session_factory
from gateway.store.tables import AuditEntry


@pytest.fixture
def population(index_url: str, data_dir: Path) -> str:
    with session_factory(index_url).begin() as session:
        add_population(session)
    return index_url


@pytest.fixture
def api(population: str) -> Iterator[httpx.Client]:
    with serving(create_app(population)) as client:
        yield client


def test_caseload_puts_the_most_concerning_first_and_says_why(population: str) -> None:
    with session_factory(population)() as session:
        worklist = ehe_caseload(session, today=date(2026, 11, 29), unseen_months=6)
    assert [e.child_id for e in worklist] == ["C-A", "C-D", "C-B"]  # C-C is on a roll
    first = worklist[0]
    assert first.removed_while_known_to_social_care and first.unseen
    assert first.social_care == "now" and first.child_protection_plan == "current"
    assert first.band == "act now" and first.reasons[0] == "On a child protection plan now"
    assert "removed_while_open" in first.reason_codes
    assert (
        "No agency has seen the child for over 6 months (last contact: last day on roll, "
        "education, 10 January 2026)"
    ) in first.reasons
    assert (first.last_seen_by_any_agency, first.last_seen_kind, first.last_seen_by) == (
        date(2026, 1, 10),
        "last day on roll",
        "education",
    )
    assert worklist[1].reasons == ["No GP registration known"] and not worklist[1].unseen
    assert worklist[1].band == "routine"
    assert worklist[2].concern == 0 and worklist[2].gp_practice_ods == "B82001"
    with session_factory(population)() as session:
        shorter = ehe_caseload(session, today=date(2026, 11, 29), unseen_months=3)
    assert shorter[1].child_id == "C-D" and shorter[1].unseen  # last seen 1 June


def test_caseload_shows_only_what_the_clause_shares(population: str) -> None:
    from gateway.lookup.caseload import SharedFacts

    education_only = SharedFacts(
        sources=frozenset({"education"}),
        fields=frozenset({"known_to", "education.ehe_status", "education.left_roll_on"}),
    )
    with session_factory(population)() as session:
        worklist = ehe_caseload(session, today=date(2026, 11, 29), shared=education_only)
    first = next(e for e in worklist if e.child_id == "C-A")
    assert first.social_care == "not shared" and first.child_protection_plan == "not shared"
    assert first.gp_practice_ods is None and first.last_health_contact is None
    assert not any("social care" in r or "protection" in r or "GP" in r for r in first.reasons)


def test_caseload_over_http_is_audited_and_needs_an_agreement(
    api: httpx.Client, population: str
) -> None:
    answer = api.get("/api/v1/caseload", params={"unseen_months": 6}, headers=bearer("erin.ehe"))
    assert answer.status_code == 200, answer.text
    assert [e["child_id"] for e in answer.json()][:1] == ["C-A"]
    refused = api.get("/api/v1/caseload", headers=bearer("hana.health"))
    assert refused.status_code == 403
    with session_factory(population)() as session:
        entries = session.scalars(select(AuditEntry).order_by(AuditEntry.seq)).all()
    assert [(e.action, e.outcome) for e in entries] == [
        ("caseload", "disclosed"),
        ("caseload", "refused"),
    ]
    assert entries[0].agreement_clause == "nyorks-ehe-2026#ehe-officers"


def test_search_ranks_candidates_with_reasons_and_echoes_nothing(
    api: httpx.Client, population: str
) -> None:
    query = {
        "purpose": "ehe_enquiry",
        "given_name": "Amelia",
        "family_name": "Hartt",
        "birth_date": "2015-03-07",
        "postcode": "YO1 7HH",
    }
    found = api.post("/api/v1/search", json=query, headers=bearer("erin.ehe"))
    assert found.status_code == 200, found.text
    ranked = found.json()
    assert [c["child_id"] for c in ranked] == ["C-A", "C-B"]
    assert ranked[0]["score"] > ranked[1]["score"]
    assert "given name matches" in ranked[0]["why"]
    assert "family name is one letter different (a likely misspelling)" in ranked[0]["why"]
    assert "Hart" not in found.text and "2015" not in found.text and "YO1" not in found.text
    swapped = api.post(
        "/api/v1/search",
        json={"purpose": "ehe_enquiry", "family_name": "Stone", "birth_date": "2015-03-07"},
        headers=bearer("erin.ehe"),
    ).json()
    assert [c["child_id"] for c in swapped] == ["C-C"]
    assert "birth date matches with day and month swapped" in swapped[0]["why"]
    assert (
        api.post(
            "/api/v1/search", json={**query, "purpose": None}, headers=bearer("erin.ehe")
        ).status_code
        == 400
    )
    assert api.post("/api/v1/search", json=query, headers=bearer("dev.data")).status_code == 403
    with session_factory(population)() as session:
        entry = session.scalars(select(AuditEntry).order_by(AuditEntry.seq)).first()
    assert entry is not None and entry.action == "search"
    assert entry.fields_disclosed == ["candidate:C-A", "candidate:C-B"]


def test_ig_officers_query_the_audit_and_verify_the_chain(
    api: httpx.Client, population: str
) -> None:
    for purpose in ("ehe_enquiry", "child_protection"):
        api.post(
            "/api/v1/lookup",
            json={"child_id": "C-A", "purpose": purpose},
            headers=bearer("erin.ehe"),
        )
    query = {"user": "erin.ehe", "outcome": "refused"}
    assert (
        api.post("/api/v1/audit/search", json=query, headers=bearer("erin.ehe")).status_code == 403
    )
    found = api.post("/api/v1/audit/search", json=query, headers=bearer("iris.ig"))
    assert found.status_code == 200
    [refusal] = found.json()
    assert refusal["purpose"] == "child_protection" and refusal["child_id"] == "C-A"
    assert api.get("/api/v1/audit/verify", headers=bearer("iris.ig")).json() == {
        "entries": 3,
        "first_broken_seq": None,
        "problems": [],
        "checkpoints": 0,
    }
    runner = CliRunner()
    intact = runner.invoke(cli, ["audit", "verify"])
    assert intact.exit_code == 0 and "intact: 3 entries" in intact.output
    with session_factory(population).begin() as session:
        if session.get_bind().dialect.name == "postgresql":
            session.execute(text("SET LOCAL session_replication_role = replica"))
        session.execute(
            update(AuditEntry).where(AuditEntry.seq == refusal["seq"]).values(purpose="ehe_enquiry")
        )
    broken = runner.invoke(cli, ["audit", "verify"])
    assert broken.exit_code == 1
    assert f"rewrite on chain 1 at entry {refusal['seq']}" in broken.output


def test_invalid_requests_say_what_is_wrong_without_echoing_it(api: httpx.Client) -> None:
    sent = {"purpose": "ehe_enquiry", "family_name": "Hartington", "birth_date": "2015-13-45"}
    answer = api.post("/api/v1/search", json=sent, headers=bearer("erin.ehe"))
    assert answer.status_code == 422
    [problem] = answer.json()["detail"]
    assert problem["loc"] == ["body", "birth_date"] and problem["msg"]
    assert "2015-13-45" not in answer.text and "Hartington" not in answer.text
