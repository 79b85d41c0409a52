"""The FHIR Flag endpoint over real HTTP on loopback, on SQLite and PostgreSQL: what each role
sees, the CapabilityStatement, errors as OperationOutcomes (audited like lookups), SMART style
scopes. Every answer is parsed back with fhir.resources (R4B)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from api_server import bearer, serving
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from fhir.resources.R4B.codesystem import CodeSystem
from fhir.resources.R4B.operationoutcome import OperationOutcome
from index_builder import CARE, EHE, add_child, record
from sqlalchemy import select

from gateway.access.tokens import LocalIssuer, TokenSettings, TokenVerifier, scopes_of
from gateway.access.users import load_demo_users
from gateway.api.app import create_app
from gateway.api.fhir.capability import grants_flag_search
from gateway.store.engine import session_factory
from gateway.store.tables import AuditEntry

NHS = "https://fhir.nhs.uk/Id/nhs-number"
PLAN, LOOKED_AFTER, RESTRICTED, MISSING = "9990001006", "9990001014", "9990001022", "9990001030"
UNKNOWN = "9990001049"
FHIR_JSON = "application/fhir+json"


def _who(nhs_number: str, restricted: bool = False) -> dict[str, Any]:
    return {
        "given_name": "Zara",
        "family_name": "Quill",
        "birth_date": "2014-05-06",
        "sex": "female",
        "nhs_number": nhs_number,
        "restricted": restricted,
    }


def _ehe(registered: str) -> dict[str, Any]:
    return {"enrolments": [], "ehe": [{"registered_on": registered}]}


@pytest.fixture
def api(index_url: str, data_dir: Path) -> Iterator[httpx.Client]:
    with session_factory(index_url).begin() as session:
        add_child(
            session,
            "C-PLAN",
            [
                record(EHE, "p1", _who(PLAN), education=_ehe("2026-01-12")),
                record(
                    CARE,
                    "p2",
                    _who(PLAN),
                    social_care={
                        "referrals": [{"start_date": "2025-05-01"}],
                        "child_protection_plans": [{"start_date": "2025-06-01"}],
                        "lead_team": "Harrogate Safeguarding",
                    },
                ),
            ],
        )
        add_child(
            session,
            "C-LAC",
            [
                record(
                    CARE,
                    "l1",
                    _who(LOOKED_AFTER),
                    social_care={
                        "referrals": [{"start_date": "2024-02-01", "end_date": "2024-03-01"}],
                        "looked_after": [{"start_date": "2024-03-01"}],
                    },
                )
            ],
        )
        add_child(
            session,
            "C-RES",
            [record(EHE, "r1", _who(RESTRICTED, True), education=_ehe("2025-10-01"))],
            restricted=True,
        )
        missing = {"enrolments": [], "missing_education": [{"reported_on": "2026-10-01"}]}
        add_child(session, "C-CME", [record(EHE, "m1", _who(MISSING), education=missing)])
    with serving(create_app(index_url)) as client:
        yield client


def search(
    api: httpx.Client,
    nhs_number: str | None,
    user: str | None = "hana.health",
    purpose: str | None = "safeguarding_duty",
    **params: str,
) -> httpx.Response:
    headers = bearer(user) if user else {}
    if purpose:
        headers["X-Purpose-Of-Use"] = purpose
    if nhs_number:
        params["patient.identifier"] = f"{NHS}|{nhs_number}"
    return api.get("/fhir/r4/Flag", params=params, headers=headers)


def flags(answer: httpx.Response) -> dict[str, dict[str, Any]]:
    """The Bundle's Flags by code, after checking it is a valid R4 searchset."""
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == FHIR_JSON
    bundle = answer.json()
    Bundle.model_validate(bundle)
    assert bundle["type"] == "searchset"
    found = {
        e["resource"]["code"]["coding"][0]["code"]: e["resource"]
        for e in bundle.get("entry", [])
        if e["search"]["mode"] == "match"
    }
    assert bundle["total"] == len(found)
    return found


def notes(answer: httpx.Response) -> list[str]:
    outcomes = [
        e["resource"] for e in answer.json().get("entry", []) if e["search"]["mode"] == "outcome"
    ]
    return [i["diagnostics"] for o in outcomes for i in o["issue"]]


def problem(answer: httpx.Response, status: int) -> str:
    """The one issue's text of an OperationOutcome answer with this status."""
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == FHIR_JSON
    outcome = OperationOutcome.model_validate(answer.json())
    (issue,) = outcome.issue
    assert issue.severity == "error"
    return str(issue.diagnostics)


def audit(index_url: str) -> list[tuple[str, str, str | None, str | None]]:
    with session_factory(index_url)() as session:
        entries = session.scalars(select(AuditEntry).order_by(AuditEntry.seq)).all()
        return [(e.action, e.outcome, e.purpose, e.child_id) for e in entries]


def test_metadata_is_an_r4_capability_statement(api: httpx.Client) -> None:
    answer = api.get("/fhir/r4/metadata")  # no token: it says nothing about any child
    assert answer.status_code == 200 and answer.headers["content-type"] == FHIR_JSON
    statement = CapabilityStatement.model_validate(answer.json())
    assert (statement.kind, statement.fhirVersion, statement.format) == (
        "instance",
        "4.0.1",
        ["json"],
    )
    assert statement.implementation.url == str(api.base_url).rstrip("/") + "/fhir/r4"
    (rest,) = statement.rest
    assert rest.mode == "server"
    services = {c.code for s in rest.security.service for c in s.coding}
    assert services == {"SMART-on-FHIR", "OAuth"}
    assert "X-Purpose-Of-Use" in rest.security.description
    assert "user/Flag.rs" in rest.security.description
    flag, codes = rest.resource
    assert (flag.type, codes.type) == ("Flag", "CodeSystem")
    assert [i.code for i in flag.interaction] == ["search-type"]
    assert [(p.name, p.type) for p in flag.searchParam] == [("patient.identifier", "token")]


def test_our_flag_codes_are_published_as_a_code_system(api: httpx.Client) -> None:
    answer = api.get("/fhir/r4/CodeSystem/ehe-flag")
    assert answer.status_code == 200 and answer.headers["content-type"] == FHIR_JSON
    codes = CodeSystem.model_validate(answer.json())
    assert codes.url == "urn:ehe-gateway:fhir:CodeSystem:ehe-flag" and codes.content == "complete"
    assert {c.code for c in codes.concept} == {
        "ehe",
        "missing-education",
        "social-care-known",
        "social-care-open",
        "child-in-need",
        "child-protection-plan",
        "looked-after",
        "restricted",
    }


def test_each_role_sees_what_its_clause_shares(api: httpx.Client, index_url: str) -> None:
    health = search(api, PLAN)
    seen = flags(health)
    assert set(seen) == {"ehe", "social-care-known", "social-care-open", "child-protection-plan"}
    for flag in seen.values():
        assert flag["status"] == "active"
        assert flag["subject"] == {"identifier": {"system": NHS, "value": PLAN}}
        assert flag["author"] == {"type": "Device", "display": "EHE gateway"}
        assert "period" not in flag  # the health clause shares no dates
    assert seen["ehe"]["category"][0]["coding"][0]["code"] == "admin"
    assert seen["child-protection-plan"]["category"][0]["coding"][0]["code"] == "safety"
    assert seen["social-care-known"]["extension"][0]["valueString"] == "Harrogate Safeguarding"
    assert "Zara" not in health.text and "Quill" not in health.text and "2014" not in health.text
    assert any("health-safeguarding" in n for n in notes(health))
    # The social worker's clause shares the dates: the Flags' periods start then.
    social = flags(search(api, PLAN, "sam.social", "child_protection"))
    assert social["ehe"]["period"] == {"start": "2026-01-12"}
    assert social["social-care-known"]["period"] == {"start": "2025-05-01"}
    # Looked after: the social worker sees it; the health clause does not share it, and says so.
    assert "looked-after" in flags(search(api, LOOKED_AFTER, "sam.social", "child_protection"))
    lac = search(api, LOOKED_AFTER)
    assert set(flags(lac)) == {"social-care-known", "social-care-open"}
    assert any("looked-after" in n and "child-in-need" in n for n in notes(lac))
    assert set(flags(search(api, MISSING))) == {"missing-education"}
    assert [a[:2] for a in audit(index_url)] == [("lookup", "disclosed")] * 5


def test_a_restricted_child_is_existence_and_whom_to_contact(
    api: httpx.Client, index_url: str
) -> None:
    answer = search(api, RESTRICTED)
    seen = flags(answer)
    assert set(seen) == {"restricted"}  # not even that the child is home educated
    assert "Information Governance team" in seen["restricted"]["code"]["text"]
    assert "period" not in seen["restricted"] and "extension" not in seen["restricted"]
    assert audit(index_url) == [("lookup", "restricted", "safeguarding_duty", "C-RES")]


def test_an_unknown_child_is_an_empty_bundle(api: httpx.Client, index_url: str) -> None:
    answer = search(api, UNKNOWN)
    assert flags(answer) == {} and "entry" not in answer.json()
    assert audit(index_url) == [("lookup", "not_found", "safeguarding_duty", None)]


def test_a_refusal_is_a_403_with_the_reason_and_no_child_data(
    api: httpx.Client, index_url: str
) -> None:
    reason = problem(search(api, PLAN, "dev.data"), 403)
    assert "no data-sharing agreement lets role data_engineer" in reason
    # The health clause does not cover EHE enquiries.
    refused = search(api, PLAN, purpose="ehe_enquiry")
    assert "purpose ehe_enquiry" in problem(refused, 403)
    assert "C-PLAN" not in refused.text and PLAN not in refused.text
    assert [a[:2] for a in audit(index_url)] == [("lookup", "refused")] * 2


def test_bad_requests_are_400_operation_outcomes_and_audited(
    api: httpx.Client, index_url: str
) -> None:
    assert "must state its purpose" in problem(search(api, PLAN, purpose=None), 400)
    assert "unknown purpose" in problem(search(api, PLAN, purpose="curiosity"), 400)
    assert "fails its check digit" in problem(search(api, "9990001007"), 400)
    assert "patient.identifier=" in problem(search(api, None), 400)
    wrong_system = {"patient.identifier": f"https://fhir.nhs.uk/Id/other|{PLAN}"}
    assert "patient.identifier=" in problem(search(api, None, **wrong_system), 400)
    no_system = {"patient.identifier": PLAN}
    assert "patient.identifier=" in problem(search(api, None, **no_system), 400)
    assert [a[1] for a in audit(index_url)] == [
        "no_purpose",
        "no_purpose",
        "bad_identifier",
        "bad_identifier",
        "bad_identifier",
        "bad_identifier",
    ]
    # Searches this endpoint does not offer: refused before any lookup.
    assert "unknown search parameters: name" in problem(search(api, PLAN, name="Quill"), 400)
    headers = {**bearer("hana.health"), "X-Purpose-Of-Use": "safeguarding_duty"}
    two = [("patient.identifier", f"{NHS}|{PLAN}"), ("patient.identifier", f"{NHS}|{MISSING}")]
    assert "one child per search" in problem(
        api.get("/fhir/r4/Flag", params=two, headers=headers), 400
    )
    assert "JSON only" in problem(search(api, PLAN, _format="xml"), 400)
    assert len(audit(index_url)) == 6
    assert "Quill" not in search(api, PLAN, name="Quill").text  # never echoes a value


def test_post_search_keeps_the_identifier_out_of_the_url(api: httpx.Client) -> None:
    headers = {**bearer("hana.health"), "X-Purpose-Of-Use": "safeguarding_duty"}
    posted = api.post(
        "/fhir/r4/Flag/_search", data={"patient.identifier": f"{NHS}|{PLAN}"}, headers=headers
    )
    assert set(flags(posted)) == set(flags(search(api, PLAN)))
    as_json = api.post(
        "/fhir/r4/Flag/_search", json={"patient.identifier": f"{NHS}|{PLAN}"}, headers=headers
    )
    assert "x-www-form-urlencoded" in problem(as_json, 415)


def test_tokens_and_scopes(api: httpx.Client, index_url: str) -> None:
    no_token = search(api, PLAN, user=None)
    assert "bearer token" in problem(no_token, 401)
    assert no_token.headers["www-authenticate"] == "Bearer"
    # The web session's cookie is not a FHIR client's credential.
    token = bearer("hana.health")["Authorization"].removeprefix("Bearer ")
    api.cookies.set("ehe_token", token)
    with_cookie = api.get(
        "/fhir/r4/Flag",
        params={"patient.identifier": f"{NHS}|{PLAN}"},
        headers={"X-Purpose-Of-Use": "safeguarding_duty"},
    )
    api.cookies.clear()
    problem(with_cookie, 401)

    def scoped(*scopes: str) -> httpx.Response:
        user = load_demo_users()["hana.health"]
        signed = LocalIssuer().issue(user, lifetime_seconds=600, scopes=scopes)
        return api.get(
            "/fhir/r4/Flag",
            params={"patient.identifier": f"{NHS}|{PLAN}"},
            headers={"Authorization": f"Bearer {signed}", "X-Purpose-Of-Use": "safeguarding_duty"},
        )

    for granted in (("openid", "user/Flag.rs"), ("system/Flag.read",), ("user/*.read",)):
        assert "ehe" in flags(scoped(*granted)), granted
    for lacking in (("openid", "profile"), ("patient/Flag.rs",), ("user/Flag.r",)):
        refused = scoped(*lacking)
        assert "insufficient_scope" in problem(refused, 403), lacking
        assert 'error="insufficient_scope"' in refused.headers["www-authenticate"]
        assert "user/Flag.rs" in refused.headers["www-authenticate"]
    outcomes = [a[1] for a in audit(index_url)]
    assert outcomes == ["disclosed"] * 3 + ["insufficient_scope"] * 3


def test_other_paths_answer_as_before(api: httpx.Client) -> None:
    assert "Not Found" in problem(api.get("/fhir/r4/Patient"), 404)
    assert problem(api.delete("/fhir/r4/Flag", headers=bearer("hana.health")), 405)
    assert api.get("/api/v1/nothing-here").json() == {"detail": "Not Found"}
    assert api.post("/api/v1/lookup", json={"purpose": "x"}).status_code == 401


@pytest.mark.parametrize(
    ("scope", "grants"),
    [
        ("user/Flag.rs", True),
        ("system/Flag.rs", True),
        ("user/Flag.s", True),
        ("user/Flag.cruds", True),
        ("user/Flag.read", True),
        ("system/*.read", True),
        ("user/*.*", True),
        ("user/Flag.r", False),  # read by id, not search
        ("user/Flag.rs?category=safety", False),  # narrowed: not honoured
        ("patient/Flag.rs", False),  # needs a launch context
        ("user/Patient.rs", False),
        ("user/Flag.write", False),
        ("user/Flag.sr", False),  # v2 permissions come in the order c r u d s
        ("Flag.read", False),
        ("openid", False),
    ],
)
def test_which_scopes_grant_a_flag_search(scope: str, grants: bool) -> None:
    assert grants_flag_search(scope) is grants


def test_tokens_carry_their_scopes(tmp_path: Path) -> None:
    issuer = LocalIssuer(TokenSettings(), tmp_path / "key.pem")
    verifier = TokenVerifier(TokenSettings(), issuer)
    user = load_demo_users()["hana.health"]
    assert verifier.verify(issuer.issue(user)).scopes is None  # no claim: the gateway's kind
    scoped = verifier.verify(issuer.issue(user, scopes=["openid", "user/Flag.rs"]))
    assert scoped.scopes == {"openid", "user/Flag.rs"}
    assert scopes_of({"scp": ["system/Flag.read", 3]}) == {"system/Flag.read"}
    assert scopes_of({"scope": ""}) == frozenset()
    assert scopes_of({"scp": {"not": "a list"}}) == frozenset()


def test_the_access_log_never_holds_the_searched_nhs_number(index_url: str, data_dir: Path) -> None:
    """``serve --access-log`` logs each request's path: a FHIR search's query string is cut."""
    import threading
    import time

    import uvicorn
    from api_server import free_port

    lines: list[str] = []

    class Kept(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(record.getMessage())

    app = create_app(index_url)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, port=port, access_log=True, log_level="info"))
    handler = Kept()
    logging.getLogger("uvicorn.access").addHandler(handler)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        while not server.started:
            time.sleep(0.05)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:
            assert search(client, PLAN).status_code == 200
            assert client.get("/api/v1/purposes?x=1").status_code == 200
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        logging.getLogger("uvicorn.access").removeHandler(handler)
    assert any("/fhir/r4/Flag?(query not logged)" in line for line in lines), lines
    assert any("/api/v1/purposes?x=1" in line for line in lines), lines  # others as before
    assert not any(PLAN in line for line in lines)
