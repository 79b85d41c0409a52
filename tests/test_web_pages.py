"""The web pages over real HTTP without a browser: token sessions, form tokens, one policy.

The web signs in with the API's own tokens (the local issuer, the demo users of
``access/demo_users.yaml``) and looks children up through the API's policy (``disclose``):
agreements per role and purpose, consent, restricted records, refusals audited.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from api_server import CONSENT_EVIDENCE, bearer
from index_builder import EHE, add_child, add_population, record
from sqlalchemy import func, select
from web_support import served

from gateway import clock
from gateway.access.audit import Actor, AuditEvent, append
from gateway.access.tokens import LocalIssuer, TokenSettings
from gateway.access.users import load_demo_users
from gateway.api.app import create_app
from gateway.glossary import long_date
from gateway.store.engine import session_factory
from gateway.store.tables import AuditEntry, LinkReview
from gateway.web.session import COOKIE

pytestmark = pytest.mark.parametrize("index_url", ["sqlite"], indirect=True)


@pytest.fixture
def client(index_url: str, data_dir: Path) -> Iterator[httpx.Client]:
    with session_factory(index_url).begin() as session:
        add_population(session)
        restricted = record(
            EHE,
            "r1",
            {"given_name": "Rosa", "family_name": "Reed", "birth_date": "2016-04-04"},
            education={"ehe": [{"registered_on": "2026-02-01"}]},
        )
        add_child(session, "C-R", [restricted], restricted=True)
    with served(create_app(index_url)) as base, httpx.Client(base_url=base, timeout=10) as http:
        yield http


def _csrf(client: httpx.Client, path: str = "/") -> str:
    token = re.search(r'name="csrf" value="([^"]+)"', client.get(path).text)
    assert token, "every form carries the session's token"
    return token.group(1)


def _sign_in(client: httpx.Client, user: str = "erin.ehe") -> str:
    response = client.post("/sign-in", data={"user": user})
    assert response.status_code == 303 and COOKIE in response.cookies
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    return _csrf(client)


# Sign-in and sign-out are audited too (tests/test_sessions.py); these tests read the rest.
SESSION_ACTIONS = ("sign_in", "sign_out")


def _audit(index_url: str) -> list[AuditEntry]:
    with session_factory(index_url)() as session:
        query = select(AuditEntry).where(AuditEntry.action.not_in(SESSION_ACTIONS))
        return list(session.scalars(query.order_by(AuditEntry.seq)))


def _audit_count(index_url: str) -> int:
    with session_factory(index_url)() as session:
        query = select(func.count()).where(AuditEntry.action.not_in(SESSION_ACTIONS))
        return session.scalar(query.select_from(AuditEntry)) or 0


def _summary(client: httpx.Client, token: str, child: str, purpose: str) -> httpx.Response:
    return client.post("/summary", data={"identifier": child, "purpose": purpose, "csrf": token})


def test_pages_need_a_signed_in_person(client: httpx.Client) -> None:
    for path in ("/", "/search", "/worklist", "/reviews", "/audit", "/break-glass"):
        response = client.get(path)
        assert response.status_code == 303 and response.headers["location"] == "/sign-in"
    assert client.get("/static/gateway.css").headers["content-type"].startswith("text/css")


def test_sign_in_lists_the_apis_demo_users_and_needs_one(client: httpx.Client) -> None:
    form = client.get("/sign-in").text
    for user in load_demo_users().values():
        assert f'value="{user.name}"' in form and user.display_name in form
    response = client.post("/sign-in", data={"user": "someone@else.example"})
    assert response.status_code == 400
    assert "There is a problem" in response.text and 'href="#user"' in response.text


def test_the_web_session_is_the_apis_token(client: httpx.Client, index_url: str) -> None:
    _sign_in(client, "erin.ehe")
    # The same token the API accepts as a bearer token names the same person.
    token = client.cookies[COOKIE]
    api = client.post(
        "/api/v1/lookup",
        json={"purpose": "ehe_enquiry", "child_id": "C-B"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert api.status_code == 200, api.text
    assert _audit(index_url)[-1].actor == "erin.ehe"
    assert "Signed in as erin.ehe" in client.get("/").text


def test_tampered_expired_and_forged_tokens_are_no_session(
    client: httpx.Client, tmp_path: Path
) -> None:
    _sign_in(client)
    token = client.cookies[COOKIE]
    header, body, signature = token.split(".")
    erin = load_demo_users()["erin.ehe"]
    iris = load_demo_users()["iris.ig"]
    forged_by_another_key = LocalIssuer(TokenSettings(), key_path=tmp_path / "other.pem")
    for bad in (
        f"{header}.{body}.{signature[:-4]}AAAA",  # signature does not match
        f"{header}.{LocalIssuer().issue(iris).split('.')[1]}.{signature}",  # body swapped
        LocalIssuer().issue(erin, lifetime_seconds=-3600),  # expired
        forged_by_another_key.issue(iris),  # signed by someone else's key
    ):
        client.cookies.set(COOKIE, bad)
        assert client.get("/audit").headers.get("location") == "/sign-in"
        assert client.get("/").headers.get("location") == "/sign-in"


def test_a_form_without_the_session_token_is_refused(client: httpx.Client, index_url: str) -> None:
    token = _sign_in(client)
    before = _audit_count(index_url)
    forged = client.post("/summary", data={"identifier": "C-A", "purpose": "ehe_enquiry"})
    assert forged.status_code == 403 and "expired" in forged.text
    wrong = _summary(client, token[:-2] + "xx", "C-A", "ehe_enquiry")
    assert wrong.status_code == 403 and "expired" in wrong.text
    assert _audit_count(index_url) == before
    real = _summary(client, token, "C-unknown", "ehe_enquiry")
    assert real.status_code == 404 and "recorded in the audit log" in real.text
    assert _audit_count(index_url) == before + 1


def test_the_summary_shows_what_the_agreement_allows_and_marks_the_rest(
    client: httpx.Client, index_url: str
) -> None:
    token = _sign_in(client, "hana.health")
    page = _summary(client, token, "C-A", "safeguarding_duty")
    assert page.status_code == 200, page.text
    assert "Shared under nyorks-ehe-2026#health-safeguarding" in page.text
    assert "Harrogate Safeguarding" in page.text  # the lead team: shared with health
    entry = _audit(index_url)[-1]
    assert (entry.outcome, entry.agreement_clause) == (
        "disclosed",
        "nyorks-ehe-2026#health-safeguarding",
    )
    # Health's clause leaves out, among others, child in need and looked after: each field the
    # audit says was refused is marked on the page, and counted.
    assert {"social_care.child_in_need", "social_care.looked_after"} <= set(entry.fields_refused)
    withheld = re.findall(r"Withheld: the agreement does not share this", page.text)
    assert len(withheld) == len(entry.fields_refused)
    assert f"{len(withheld)} items withheld" in page.text

    _sign_in(client, "erin.ehe")
    token = _csrf(client)
    ehe = _summary(client, token, "C-A", "ehe_enquiry")
    assert ehe.status_code == 200 and "Withheld" not in ehe.text
    assert "Child protection plan" in ehe.text  # EHE officers see who else knows the child


def _people(client: httpx.Client, token: str, **fields: str) -> httpx.Response:
    form = {"given_name": "", "family_name": "", "day": "", "month": "", "year": ""}
    return client.post("/search/people", data={**form, **fields, "csrf": token})


def test_search_by_name_and_birth_date_ranks_children_and_says_why(
    client: httpx.Client, index_url: str
) -> None:
    token = _sign_in(client, "erin.ehe")
    finding = client.get("/search").text  # one form per page: the name search is its own
    assert 'href="/search/people"' in finding and 'action="/search/people"' not in finding
    assert 'action="/search/people"' in client.get("/search/people").text
    found = _people(
        client,
        token,
        given_name="Amelia",
        family_name="Hart",
        day="7",
        month="3",
        year="2015",
        purpose="ehe_enquiry",
    )
    assert found.status_code == 200, found.text
    shown = re.findall(r'name="identifier" value="(C-[A-Z])"', found.text)
    # Amelia Hart and Amelie Hart share the birth date and surname: the exact given name first.
    assert shown[:2] == ["C-A", "C-B"], shown
    assert "Given name matches" in found.text and "Birth date matches" in found.text  # why
    assert "Amelia" not in found.text.split("</form>", 1)[1]  # nothing typed is echoed back
    entry = _audit(index_url)[-1]
    assert (entry.action, entry.outcome, entry.purpose) == ("search", "candidates", "ehe_enquiry")
    assert entry.fields_disclosed[:2] == ["candidate:C-A", "candidate:C-B"]
    # Each candidate's button asks for its summary by child id under the same purpose.
    summary = _summary(client, token, shown[0], "ehe_enquiry")
    assert summary.status_code == 200 and "Child protection plan" in summary.text


def test_search_by_name_needs_a_purpose_a_name_and_a_real_date(
    client: httpx.Client, index_url: str
) -> None:
    token = _sign_in(client, "erin.ehe")
    before = _audit_count(index_url)
    bad = _people(client, token, family_name="", day="31", month="2", year="2015")
    assert bad.status_code == 400
    for field in ("family_name", "birth_date", "purpose"):
        assert f'href="#{field}"' in bad.text and f'id="{field}-error"' in bad.text
    assert 'value="31"' in bad.text  # what was typed stays in the form
    # No purpose: refused, and the refusal is audited; no search ran.
    assert [(e.action, e.outcome) for e in _audit(index_url)[before:]] == [("search", "no_purpose")]
    nobody = _people(
        client, token, family_name="Nobody", day="1", month="1", year="2016", purpose="ehe_enquiry"
    )
    assert nobody.status_code == 200 and "No child in the index matches" in nobody.text
    assert _audit(index_url)[-1].outcome == "no_match"


def test_a_restricted_record_shows_only_that_it_exists_and_whom_to_contact(
    client: httpx.Client, index_url: str
) -> None:
    token = _sign_in(client, "erin.ehe")
    page = _summary(client, token, "C-R", "ehe_enquiry")
    assert page.status_code == 200
    assert "This child&#39;s record is restricted" in page.text
    assert "Contact the Information Governance team" in page.text
    assert "Registered GP practice" not in page.text and "Last school" not in page.text
    entry = _audit(index_url)[-1]
    assert entry.outcome == "restricted" and "education.ehe_status" in entry.fields_refused


def test_refusals_by_agreement_and_consent_are_audited_with_the_reason(
    client: httpx.Client, index_url: str
) -> None:
    token = _sign_in(client, "erin.ehe")
    no_consent = _summary(client, token, "C-B", "voluntary_support")
    assert no_consent.status_code == 403
    assert "needs the family&#39;s consent" in no_consent.text
    assert "recorded in the audit log" in no_consent.text
    not_covered = _summary(client, token, "C-B", "child_protection")
    assert (
        not_covered.status_code == 403 and "no data-sharing agreement" in not_covered.text.lower()
    )
    refusals = [(e.outcome, e.child_id, e.purpose) for e in _audit(index_url)]
    assert refusals == [
        ("no_consent", "C-B", "voluntary_support"),
        ("refused", "C-B", "child_protection"),
    ]
    assert "consent" in (_audit(index_url)[0].reason or "")
    # Consent given through the API opens the same purpose to the web, at once.
    given = client.post(
        "/api/v1/consents",
        json={"child_id": "C-B", "scope": "voluntary_support", **CONSENT_EVIDENCE},
        headers=bearer("erin.ehe"),
    )
    assert given.status_code == 201
    assert _summary(client, token, "C-B", "voluntary_support").status_code == 200


def test_a_role_no_agreement_covers_is_refused_and_audited(
    client: httpx.Client, index_url: str
) -> None:
    client.post("/sign-in", data={"user": "dev.data"})
    token = _csrf(client, "/")
    assert client.get("/search").status_code == 403
    assert client.get("/worklist").status_code == 403
    assert "Find a child" not in client.get("/").text
    response = _summary(client, token, "C-A", "ehe_enquiry")
    assert response.status_code == 403 and "no data-sharing agreement" in response.text.lower()
    entries = _audit(index_url)
    assert [(e.action, e.outcome) for e in entries] == [
        ("caseload", "refused"),
        ("lookup", "refused"),
    ]
    assert entries[1].child_id == "C-A" and "no data-sharing agreement" in (entries[1].reason or "")


def test_the_worklist_is_the_apis_caseload_and_one_audit_entry_names_each_child_shown(
    client: httpx.Client, index_url: str
) -> None:
    _sign_in(client, "erin.ehe")
    page = client.get("/worklist")
    assert page.status_code == 200
    shown = re.findall(r'name="identifier" value="([^"]+)"', page.text)
    api = client.get("/api/v1/caseload", headers=bearer("erin.ehe")).json()
    # The restricted child (C-R) comes last: its facts may not order the list.
    assert shown == [e["child_id"] for e in api] == ["C-A", "C-D", "C-B", "C-R"]
    assert "Removed from a school roll while social care had the case open" in page.text
    views = [e for e in _audit(index_url) if e.action == "caseload"]
    assert len(views) == 2  # the page, then the API: one entry a view
    for view in views:
        assert [f for f in view.fields_disclosed if f.startswith("child:")] == [
            f"child:{c}" for c in shown
        ]
        assert view.agreement_clause == "nyorks-ehe-2026#ehe-officers"


def test_the_api_still_answers_in_json(client: httpx.Client) -> None:
    response = client.post("/api/v1/lookup", json={"purpose": "ehe_enquiry", "child_id": "C-1"})
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/json"
    assert "bearer token" in response.json()["detail"]
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
    client.post("/sign-in", data={"user": "dev.data"})
    page = client.get("/reviews")
    assert page.status_code == 200
    assert "L1" in page.text and "L2" not in page.text
    # Weights in words, the strongest against one child always among them.
    assert "birth date: very strong evidence of one child" in page.text
    assert "postcode: strong evidence of one child (8.0 times likelier)" in page.text
    assert "given name: some evidence of two children (2.4 times likelier)" in page.text
    assert "+6.5" not in page.text


def test_audit_explorer_pages_through_entries_and_keeps_the_filter(
    client: httpx.Client, index_url: str
) -> None:
    with session_factory(index_url).begin() as session:
        for n in range(120):
            who = Actor(f"user{n % 2}@la.example", "LA 815", "ehe_officer")
            append(session, AuditEvent(actor=who, action="lookup", outcome="not_found"))
    client.post("/sign-in", data={"user": "iris.ig"})
    first = client.get("/audit", params={"user": "user0@la.example"})
    assert "60 entries match. Page 1 of 1" in first.text
    everyone = client.get("/audit")
    # the sign-in and the first view are audited too
    assert "122 entries match. Page 1 of 2" in everyone.text
    link = re.search(r'href="(/audit\?[^"]*page=2[^"]*)"', everyone.text)
    assert link
    second = client.get(link.group(1).replace("&amp;", "&"))
    assert "Page 2 of 2" in second.text
    back = re.search(r'href="(/audit\?[^"]*page=1[^"]*)"[^>]*>Previous page', second.text)
    assert back, "paging goes both ways"
    assert "Page 1 of 2" in client.get(back.group(1).replace("&amp;", "&")).text


def test_audit_explorer_filters_by_child_action_and_purpose_in_words(
    client: httpx.Client, index_url: str
) -> None:
    token = _sign_in(client, "erin.ehe")
    _summary(client, token, "C-A", "ehe_enquiry")
    _summary(client, token, "C-B", "ehe_enquiry")
    client.post("/sign-out", data={"csrf": token})
    client.post("/sign-in", data={"user": "iris.ig"})
    page = client.get("/audit")
    assert '<option value="lookup" >Looked up a child</option>' in page.text
    assert ">EHE suitability enquiry / children missing education</option>" in page.text
    wanted = {"child": "C-B", "action": "lookup", "purpose": "ehe_enquiry"}
    found = client.get("/audit", params=wanted)
    assert "1 entry matches" in found.text and 'value="C-B"' in found.text
    dates = {"from-day": "31", "from-month": "2", "from-year": "2026", "to-day": "3"}
    bad = client.get("/audit", params=dates)
    assert bad.status_code == 400
    assert "The start date must be a real date" in bad.text
    assert "The end date must include a month and a year" in bad.text


def test_break_glass_page_is_the_access_policys_list_and_closes_reviews(
    client: httpx.Client, index_url: str
) -> None:
    reason = "Child seen with injuries at a home visit; school place unknown"
    opened = client.post(
        "/api/v1/break-glass",
        json={"child_id": "C-A", "purpose": "ehe_enquiry", "reason": reason},
        headers=bearer("sam.social"),
    )
    assert opened.status_code == 201, opened.text
    override = opened.json()["id"]
    used = client.post(
        "/api/v1/lookup",
        json={"child_id": "C-A", "purpose": "ehe_enquiry"},
        headers=bearer("sam.social"),
    )
    assert used.json()["outcome"] == "break_glass"
    token = _sign_in(client, "iris.ig")
    page = client.get("/break-glass")
    assert reason in page.text and "1 of 1 overrides wait for an IG review" in page.text
    assert "Waiting for review" in page.text
    assert "Lookups made under this override: 1" in page.text  # each lookup listed under it
    assert re.search(r"<li>.*shown under break-glass to sam\.social, \d+ fields shown", page.text)
    empty = client.post(f"/break-glass/{override}/close", data={"note": " ", "csrf": token})
    assert empty.status_code == 400 and "a note is required" in empty.text
    closed = client.post(
        f"/break-glass/{override}/close",
        data={"note": "Justified: s.47 strategy meeting held", "csrf": token},
    )
    assert closed.status_code == 303
    assert (
        f"The review of override {override} is closed"
        in client.get(closed.headers["location"]).text
    )
    reviews = client.get("/api/v1/break-glass/reviews?state=closed", headers=bearer("iris.ig"))
    assert [(r["id"], r["reviewed_by"]) for r in reviews.json()] == [(override, "iris.ig")]
    assert "0 of 1 overrides wait" in client.get("/break-glass").text


def test_a_bad_query_gets_a_page_and_the_api_keeps_its_422(client: httpx.Client) -> None:
    _sign_in(client)
    page = client.get("/worklist", params={"months": "0"})
    assert page.status_code == 400 and "Check what you entered" in page.text
    api = client.post("/api/v1/lookup", json={"purpose": 5}, headers=bearer("erin.ehe"))
    assert api.status_code == 422 and api.headers["content-type"] == "application/json"


def test_a_refusal_for_want_of_consent_offers_consent_and_the_purposes_the_role_may_use(
    client: httpx.Client, index_url: str
) -> None:
    token = _sign_in(client, "erin.ehe")
    refused = _summary(client, token, "C-B", "voluntary_support")
    assert refused.status_code == 403 and "What you can do next" in refused.text
    assert "voluntary_support" not in refused.text.split("<main")[1].split("<form")[0]  # words
    assert "Ask the family for their consent" in refused.text
    assert "Break the glass" not in refused.text  # not for a refusal for want of consent
    offered = re.findall(r'name="purpose" type="radio" value="([a-z_]+)"', refused.text)
    assert offered and "voluntary_support" not in offered and "ehe_enquiry" in offered
    other = _summary(client, token, "C-B", "ehe_enquiry")  # the purpose offered: one click on
    assert other.status_code == 200
    done = [(e.action, e.outcome) for e in _audit(index_url)][-2:]
    assert done == [("lookup", "no_consent"), ("lookup", "disclosed")]


def test_break_glass_is_offered_last_after_the_purposes_the_role_may_use(
    client: httpx.Client,
) -> None:
    token = _sign_in(client, "sam.social")
    refused = _summary(client, token, "C-A", "ehe_enquiry")
    assert refused.status_code == 403
    text = refused.text
    assert text.index("What you can do next") < text.index("Break the glass")
    assert 'value="child_protection"' in text  # a purpose the social worker's clause covers
    offered = re.findall(r'name="purpose" type="radio" value="([a-z_]+)"', text)
    assert "ehe_enquiry" not in offered  # never the purpose just refused


def test_the_sharing_report_is_a_page_of_the_service_with_csv_and_html_downloads(
    client: httpx.Client, index_url: str
) -> None:
    client.post("/sign-in", data={"user": "iris.ig"})
    form = client.get("/reports/sharing")
    assert form.status_code == 200 and 'name="from-day"' in form.text
    missing = client.get("/reports/sharing", params={"from-day": "1"})
    assert missing.status_code == 400 and "The start date must include a month and a year" in (
        missing.text
    )
    assert "Enter the end date" in missing.text
    today = clock.today()
    start = today.replace(day=1)
    period = {"from-day": "1", "from-month": str(today.month), "from-year": str(today.year)}
    period |= {"to-day": str(today.day), "to-month": str(today.month), "to-year": str(today.year)}
    shown = client.get("/reports/sharing", params=period)
    assert shown.status_code == 200 and "Audit log</a>" in shown.text  # the service's header
    assert f"{long_date(start)} to {long_date(today)}" in shown.text
    assert shown.text.count('role="img"') == 4 and "<title id=" in shown.text
    csv = client.get("/reports/sharing/csv", params=period)
    assert csv.headers["content-type"].startswith("text/csv")
    assert csv.text.startswith("child_id,organisation,role,times")
    html = client.get("/reports/sharing/html", params=period)
    assert "attachment" in html.headers["content-disposition"] and "<!DOCTYPE html>" in html.text
    exported = [e.outcome for e in _audit(index_url) if e.action == "report_sharing"]
    assert exported == ["viewed", "exported", "exported"]
