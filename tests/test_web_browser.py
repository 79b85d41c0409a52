"""The web pages in a real browser (Debian's chromium driven by Playwright) over real HTTP.

Clicks through sign-in, search, purpose choice (with the error when none is chosen), the
child's summary and the EHE caseload worklist, on SQLite and PostgreSQL; checks every page for
basic accessibility (a title, labelled inputs, one h1 and no skipped heading levels), runs
axe-core on it at 1,280 and 375 px (``axe_check``: no serious or critical violation, no
content outside a landmark), and that
identifiers never appear in a URL; screenshots go to the test's tmp dir (and to
``EHE_WEB_SHOTS`` when set, for looking at them).
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from api_server import bearer
from axe_check import axe_available, axe_problems, in_ci
from index_builder import (
    EHE,
    add_child,
    add_population,
    add_review_pair,
    add_twin_pair,
    record,
)
from playwright.sync_api import Browser, Page, expect, sync_playwright
from sqlalchemy import select
from web_support import nhs_number_known_to_social_care, populate, served

from gateway.api.app import create_app
from gateway.reports.pdf import CHROMIUM, CHROMIUM_ARGS
from gateway.store.engine import session_factory
from gateway.store.tables import AuditEntry, Link, LinkReview

SUFFIX = " \u2013 EHE gateway"  # an en dash, as GOV.UK titles use
PHONE_WIDTH = 375
ACCESSIBILITY_PROBLEMS = """() => {
  const problems = [];
  if (!document.title.trim()) problems.push('no page title');
  if (!document.documentElement.lang) problems.push('no lang on html');
  for (const el of document.querySelectorAll('input:not([type=hidden]), select, textarea')) {
    const label = el.id && document.querySelector(`label[for="${el.id}"]`);
    if (!label && !el.getAttribute('aria-label')) problems.push(`unlabelled ${el.name}`);
  }
  for (const b of document.querySelectorAll('button')) {
    if (!b.textContent.trim()) problems.push('button without text');
  }
  const headings = [...document.querySelectorAll('h1,h2,h3,h4,h5,h6')]
    .filter(h => !h.closest('.govuk-error-summary'))
    .map(h => Number(h.tagName[1]));
  if (headings.filter(level => level === 1).length !== 1) problems.push('not exactly one h1');
  headings.reduce((previous, level) => {
    if (level > previous + 1) problems.push(`h${level} after h${previous}`);
    return level;
  }, 0);
  return problems;
}"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"chromium not installed at {CHROMIUM}")
    if not axe_available():
        message = "axe-core is not installed: run `npm ci` in tests/axe"
        if in_ci():
            pytest.fail(message)
        pytest.skip(message)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def site(index_url: str, data_dir: Path) -> Iterator[str]:
    with served(create_app(index_url)) as base:
        yield base


@pytest.fixture
def populated_site(index_url: str, inbox: Path, data_dir: Path) -> Iterator[str]:
    populate(index_url)
    with served(create_app(index_url)) as base:
        yield base


@pytest.fixture
def hand_made_site(index_url: str, data_dir: Path) -> Iterator[str]:
    """The hand-made population (C-A on a protection plan) and a restricted child, C-R."""
    with session_factory(index_url).begin() as session:
        add_population(session)
        who = {"given_name": "Rosa", "family_name": "Reed", "birth_date": "2016-04-04"}
        education = {"ehe": [{"registered_on": "2026-02-01"}]}
        add_child(session, "C-R", [record(EHE, "r1", who, education=education)], restricted=True)
    with served(create_app(index_url)) as base:
        yield base


class Visit:
    """One person's browser tab: screenshots and an accessibility check on every page."""

    def __init__(self, page: Page, shots: Path) -> None:
        self.page = page
        self.shots = shots
        self.urls: list[str] = []
        page.on("request", lambda request: self.urls.append(request.url))

    def check(self, name: str) -> None:
        assert self.page.evaluate(ACCESSIBILITY_PROBLEMS) == [], name
        assert axe_problems(self.page) == [], name
        path = self.shots / f"{name}.png"
        self.page.screenshot(path=path, full_page=True)
        # The same page on a phone: it reflows, nothing scrolls sideways.
        desktop = self.page.viewport_size
        self.page.set_viewport_size({"width": PHONE_WIDTH, "height": 800})
        width = self.page.evaluate("document.documentElement.scrollWidth")
        self.page.screenshot(path=self.shots / f"{name}-phone.png", full_page=True)
        phone_problems = axe_problems(self.page)  # axe again, at the phone's width
        if desktop:
            self.page.set_viewport_size(desktop)
        assert width <= PHONE_WIDTH, f"{name} is {width} px wide on a {PHONE_WIDTH} px phone"
        assert phone_problems == [], f"{name} on a phone"
        wanted = os.environ.get("EHE_WEB_SHOTS")
        if wanted:
            Path(wanted).mkdir(parents=True, exist_ok=True)
            for shot in (path, self.shots / f"{name}-phone.png"):
                shutil.copy(shot, Path(wanted) / shot.name)

    def look_up(self, child_id: str, purpose: str) -> None:
        self.page.get_by_role("link", name="Find a child").first.click()
        self.page.get_by_label("Find a child").fill(child_id)
        self.page.get_by_role("button", name="Continue").click()
        self.page.get_by_label(purpose).check()
        self.page.get_by_role("button", name="Show what is known").click()

    def sign_in(self, base: str, who: str) -> None:
        self.page.goto(base + "/")
        expect(self.page).to_have_title("Sign in" + SUFFIX)
        self.check("sign-in")
        self.page.get_by_label(who).check()
        self.page.get_by_role("button", name="Sign in").click()
        expect(self.page.get_by_text("Signed in as")).to_be_visible()


def _audit(index_url: str) -> list[AuditEntry]:
    with session_factory(index_url)() as session:
        return list(session.scalars(select(AuditEntry).order_by(AuditEntry.seq)))


def test_ehe_officer_finds_a_child_and_sees_the_caseload(
    browser: Browser, populated_site: str, index_url: str, tmp_path: Path
) -> None:
    site = populated_site
    nhs = nhs_number_known_to_social_care(index_url)
    page = browser.new_page(viewport={"width": 1200, "height": 900}, java_script_enabled=False)
    visit = Visit(page, tmp_path)  # the pages work without JavaScript
    page = visit.page
    visit.sign_in(site, "Erin Ellis")

    page.get_by_role("link", name="Find a child").first.click()
    page.get_by_label("Find a child").fill("999 000 0001")  # fails the check digit
    page.get_by_role("button", name="Continue").click()
    expect(page).to_have_title("Error: Find a child" + SUFFIX)
    expect(page.locator(".govuk-error-summary")).to_contain_text("fails its check digit")
    visit.check("search-error")

    page.get_by_label("Find a child").fill(nhs)
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Why do you need to know?")
    expect(page.locator("#typed-identifier")).to_have_text(nhs)  # what was typed, shown back
    expect(page.get_by_role("link", name="Back")).to_have_attribute("href", "/search")
    visit.check("purpose")
    page.get_by_role("button", name="Show what is known").click()
    summary_box = page.locator(".govuk-error-summary")
    expect(summary_box).to_contain_text("Choose why you need to know")
    expect(page).to_have_title("Error: Why do you need to know?" + SUFFIX)
    visit.check("purpose-error")
    summary_box.get_by_role("link", name="Choose why you need to know").click()
    expect(
        page.get_by_label("EHE suitability enquiry / children missing education")
    ).to_be_focused()

    page.get_by_label("EHE suitability enquiry / children missing education").check()
    page.get_by_role("button", name="Show what is known").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Who else knows this child")
    social_care = page.locator("dl").first
    expect(social_care.locator(".govuk-summary-list__row").first).to_contain_text("Yes")
    visit.check("summary")
    page_text = page.content()
    assert nhs not in page_text, "the summary must not echo the NHS number"

    page.get_by_role("link", name="EHE caseload").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("EHE caseload")
    expect(page.locator('[aria-current="page"]')).to_have_text("EHE caseload")
    rows = page.locator("tbody tr")
    on_caseload = rows.count()
    assert on_caseload > 5
    first_band = rows.first.locator("td").first
    expect(first_band).to_contain_text("Act now")
    visit.check("worklist")

    rows.first.get_by_role("button", name="Look up").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Why do you need to know?")

    assert not [url for url in visit.urls if nhs in url], "identifiers must never be in a URL"
    entries = _audit(index_url)
    lookups = [(e.action, e.outcome, e.purpose) for e in entries if e.action == "lookup"]
    assert lookups == [("lookup", "no_purpose", None), ("lookup", "disclosed", "ehe_enquiry")]
    views = [e for e in entries if e.action == "caseload"]
    assert len(views) == 1  # one audited request naming each child shown
    named = [f for f in views[0].fields_disclosed if f.startswith("child:")]
    assert len(named) == on_caseload
    assert {e.actor for e in entries} == {"erin.ehe"}


@pytest.mark.parametrize("index_url", ["sqlite"], indirect=True)
def test_ehe_officer_searches_by_name_and_date_of_birth(
    browser: Browser, hand_made_site: str, index_url: str, tmp_path: Path
) -> None:
    page = browser.new_page(viewport={"width": 1200, "height": 900}, java_script_enabled=False)
    visit = Visit(page, tmp_path)
    page = visit.page
    visit.sign_in(hand_made_site, "Erin Ellis")
    page.get_by_role("link", name="Find a child").first.click()
    page.get_by_role("link", name="Search by name and date of birth").click()
    expect(page.locator('[aria-current="page"]')).to_have_text("Find a child")
    expect(page.locator("form")).to_have_count(2)  # the search, and signing out
    visit.check("people-search")
    page.get_by_label("Last name").fill("Hart")
    page.get_by_role("button", name="Search", exact=True).click()
    expect(page).to_have_title("Error: Search by name and date of birth" + SUFFIX)
    errors = page.locator(".govuk-error-summary")
    expect(errors).to_contain_text("Enter the child's date of birth")
    expect(errors).to_contain_text("Choose why you need to know")
    visit.check("people-search-error")
    errors.get_by_role("link", name="Enter the child's date of birth").click()
    expect(page.get_by_label("Day", exact=True)).to_be_focused()

    expect(page.get_by_label("Last name")).to_have_value("Hart")  # kept from the first try
    page.get_by_label("First name").fill("Amelia")
    page.get_by_label("Day", exact=True).fill("7")
    page.get_by_label("Month", exact=True).fill("3")
    page.get_by_label("Year", exact=True).fill("2015")
    page.get_by_label("EHE suitability enquiry / children missing education").check()
    page.get_by_role("button", name="Search", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("may match")
    rows = page.locator("tbody tr")
    expect(rows.first.locator("td").first).to_have_text("C-A")
    expect(rows.first).to_contain_text("Given name matches")
    expect(rows.nth(1).locator("td").first).to_have_text("C-B")
    visit.check("people-search-results")

    rows.first.get_by_role("button", name="Show what is known").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Who else knows this child")
    expect(page.get_by_text("Harrogate Safeguarding", exact=True)).to_be_visible()
    assert not [url for url in visit.urls if "Hart" in url or "2015" in url]
    done = [(e.action, e.outcome) for e in _audit(index_url)]
    assert done[-3:] == [
        ("search", "no_purpose"),
        ("search", "candidates"),
        ("lookup", "disclosed"),
    ]


def test_roles_see_only_their_pages_and_ig_explores_the_audit(
    browser: Browser, site: str, index_url: str, tmp_path: Path
) -> None:
    visit = Visit(browser.new_page(java_script_enabled=False), tmp_path)
    page = visit.page
    visit.sign_in(site, "Hana Hughes")
    expect(page.get_by_role("link", name="EHE caseload")).to_have_count(0)
    response = page.goto(site + "/worklist")
    assert response is not None and response.status == 403
    response = page.goto(site + "/audit")
    assert response is not None and response.status == 403
    page.get_by_role("button", name="Sign out").click()

    visit.sign_in(site, "Iris Ingram")
    page.get_by_role("link", name="Audit log").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Audit log")
    page.get_by_label("Outcome").select_option("refused")
    page.get_by_role("button", name="Filter").click()
    table_rows = page.locator("tbody tr")
    expect(table_rows).to_have_count(1)
    expect(table_rows.first).to_contain_text("hana.health")
    expect(table_rows.first).to_contain_text("caseload")
    visit.check("audit")
    page.get_by_label("Action").select_option(label="Viewed the EHE caseload")
    page.get_by_label("Child id").fill("C-NOBODY")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("tbody tr")).to_have_count(0)
    expect(page.get_by_label("Child id")).to_have_value("C-NOBODY")  # the filter is kept
    page.get_by_label("Child id").fill("")
    page.get_by_label("Day (from)").fill("31")  # GOV.UK date boxes; each bad date its message
    page.get_by_label("Month (from)").fill("2")
    page.get_by_label("Year (from)").fill("2026")
    page.get_by_label("Day (to)").fill("3")
    page.get_by_label("Year (to)").fill("2026")
    page.get_by_role("button", name="Filter").click()
    problems = page.locator(".govuk-error-summary")
    expect(problems).to_contain_text("The start date must be a real date")
    expect(problems).to_contain_text("The end date must include a month")
    expect(page.get_by_label("Day (from)")).to_have_value("31")  # what was typed, kept
    visit.check("audit-date-errors")

    page.get_by_role("link", name="Break-glass").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Break-glass uses")
    expect(page.locator("main")).to_contain_text("No break-glass uses recorded")
    visit.check("break-glass")
    page.get_by_role("link", name="Sharing report").first.click()
    visit.check("sharing-form")
    page.get_by_role("button", name="Show the report").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Data sharing report")
    expect(page.locator("header nav")).to_contain_text("Audit log")  # inside the service
    expect(page.locator('[aria-current="page"]')).to_have_text("Sharing report")
    expect(page.locator(".figures")).to_contain_text("refused or not shared")
    charts = page.locator(".chart svg")
    expect(charts).to_have_count(4)
    for n in range(4):  # each chart has an accessible name
        expect(charts.nth(n)).to_have_attribute("role", "img")
        assert charts.nth(n).locator("title").text_content()
    visit.check("sharing-report")
    csv_link = page.get_by_role("link", name=re.compile("Spreadsheet"))
    answer = page.request.get(site + str(csv_link.get_attribute("href")))
    assert answer.ok and answer.text().startswith("child_id,organisation,role")
    pdf_link = page.get_by_role("link", name=re.compile("PDF"))
    answer = page.request.get(site + str(pdf_link.get_attribute("href")))
    assert answer.ok and answer.body().startswith(b"%PDF")
    assert "attachment" in answer.headers["content-disposition"]


@pytest.mark.parametrize("index_url", ["sqlite"], indirect=True)
def test_one_policy_withheld_fields_restricted_record_consent_and_break_glass(
    browser: Browser, hand_made_site: str, index_url: str, tmp_path: Path
) -> None:
    site = hand_made_site
    visit = Visit(browser.new_page(java_script_enabled=False), tmp_path)
    page = visit.page
    visit.sign_in(site, "Hana Hughes")  # health's clause leaves out child in need, and more
    visit.look_up("C-A", "Safeguarding duty of agencies")
    expect(page.get_by_role("heading", level=1)).to_have_text("Who else knows this child")
    expect(page.get_by_text(re.compile(r"\d+ items withheld"))).to_be_visible()
    need = page.locator(".govuk-summary-list__row", has_text="Child in need")
    expect(need).to_contain_text("Withheld: the agreement does not share this")
    visit.check("summary-withheld")
    page.get_by_role("button", name="Sign out").click()

    visit.sign_in(site, "Erin Ellis")

    visit.look_up("C-R", "EHE suitability enquiry / children missing education")
    expect(page.locator(".govuk-warning-text")).to_contain_text("Information Governance team")
    expect(page.locator("dl")).to_have_count(0)
    visit.check("summary-restricted")

    visit.look_up("C-B", "Voluntary support offer to an EHE family")
    expect(page.get_by_role("heading", level=1)).to_have_text("You cannot see this child's record")
    expect(page.locator("main")).to_contain_text("needs the family's consent")
    expect(page.locator("main")).to_contain_text("What you can do next")
    visit.check("refused-no-consent")
    outcomes = [(e.child_id, e.outcome) for e in _audit(index_url) if e.action == "lookup"]
    assert outcomes == [("C-A", "disclosed"), ("C-R", "restricted"), ("C-B", "no_consent")]
    expect(page.locator("main")).to_contain_text("Ask the family for their consent")

    page.get_by_role("link", name="EHE caseload").first.click()
    expect(page.locator("tbody tr").first).to_contain_text("C-A")
    visit.check("worklist-hand-made")
    page.get_by_role("button", name="Sign out").click()

    with httpx.Client(base_url=site) as api:
        reason = "Child seen with injuries at a home visit; school place unknown"
        body = {"child_id": "C-A", "purpose": "ehe_enquiry", "reason": reason}
        assert api.post("/api/v1/break-glass", json=body, headers=bearer("sam.social")).is_success
    visit.sign_in(site, "Iris Ingram")
    page.get_by_role("link", name="Break-glass").first.click()
    row = page.locator("section.gateway-card").first
    expect(row).to_contain_text("sam.social")
    expect(row).to_contain_text("Waiting for review")
    expect(row).to_contain_text("Lookups made under this override: 0")
    visit.check("break-glass-open")
    row.get_by_role("button", name="Close the review").click()
    expect(page.locator(".govuk-error-summary")).to_contain_text("Say what the review found")
    page.locator("section.gateway-card").first.get_by_label(
        re.compile("What the review of override")
    ).fill("Justified: strategy discussion held")
    page.locator("section.gateway-card").first.get_by_role(
        "button", name="Close the review"
    ).click()
    expect(page.locator(".govuk-notification-banner")).to_contain_text("is closed")
    expect(page.locator("section.gateway-card").first).to_contain_text("Reviewed by iris")
    visit.check("break-glass-closed")


def test_an_ehe_officer_records_consent_from_a_refused_lookup_then_its_withdrawal(
    browser: Browser, hand_made_site: str, index_url: str, tmp_path: Path
) -> None:
    """The consent form on a page refused for want of consent: missing evidence is named at
    its field, the form keeps what was chosen, and once recorded the summary is shown."""
    visit = Visit(browser.new_page(java_script_enabled=False), tmp_path)
    page = visit.page
    visit.sign_in(hand_made_site, "Erin Ellis")
    visit.look_up("C-B", "Voluntary support offer to an EHE family")
    form = page.locator("form[action='/summary/consent']")
    form.get_by_label("A parent").check()
    form.get_by_role("button", name="Record consent and show the record").click()
    expect(page.locator(".govuk-error-summary")).to_contain_text("Say how consent was given")
    expect(page.get_by_label("A parent")).to_be_checked()
    visit.check("consent-missing-evidence")
    form.get_by_label("In writing (a signed form or letter)").check()
    form.get_by_label("The day consent was given").fill("2026-11-20")
    form.get_by_label("Where the evidence is kept").fill("EHE-CONSENT-0142")
    form.get_by_role("button", name="Record consent and show the record").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Who else knows this child")
    visit.check("summary-with-consent")
    page.get_by_role("button", name="Record that consent was withdrawn").click()
    expect(page.locator("main")).to_contain_text("needs the family's consent")
    outcomes = [(e.action, e.outcome) for e in _audit(index_url) if e.action != "sign_in"]
    assert outcomes == [
        ("lookup", "no_consent"),
        ("consent_given", "recorded"),
        ("lookup", "disclosed"),
        ("consent_withdrawn", "recorded"),
        ("lookup", "no_consent"),
    ]


@pytest.fixture
def review_site(index_url: str, data_dir: Path) -> Iterator[tuple[str, int]]:
    """The hand-made population and one open review of two records (C-P1 and C-P2)."""
    with session_factory(index_url).begin() as session:
        add_population(session)
        review_id = add_review_pair(session)
    with served(create_app(index_url)) as base:
        yield base, review_id


def test_a_data_engineer_accepts_a_possible_match(
    browser: Browser, review_site: tuple[str, int], index_url: str, tmp_path: Path
) -> None:
    site, review_id = review_site
    visit = Visit(browser.new_page(java_script_enabled=False), tmp_path)
    page = visit.page
    visit.sign_in(site, "Dev Dawson")
    page.get_by_role("link", name="Review queue").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Possible matches waiting for review")
    first = page.locator("tbody tr").first
    expect(first).to_contain_text("Home education")
    visit.check("review-queue")
    first.get_by_role("link", name=f"Review {review_id}").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Are these records the same child?")
    expect(page.locator("table").first).to_contain_text("Maisy")
    expect(page.locator(".gateway-waterfall rect")).to_have_count(7)
    visit.check("review-pair")
    page.get_by_role("button", name="Accept: the same child").click()
    expect(page.locator(".govuk-error-summary")).to_contain_text("Say why you decided this")
    visit.check("review-pair-error")
    page.get_by_label("Why you decided").fill("Same child: Maisy is how the GP spells Maisie")
    page.get_by_role("button", name="Accept: the same child").click()
    expect(page.locator(".govuk-notification-banner")).to_contain_text(
        f"Review {review_id} accepted"
    )
    expect(page.locator("tbody tr")).to_have_count(0)
    visit.check("review-accepted")
    with session_factory(index_url)() as session:
        joined = session.get(Link, ("health__fhir_patient", "p2"))
        assert joined is not None and (joined.child_id, joined.origin) == ("C-P1", "MANUAL")
    assert [e.action for e in _audit(index_url)] == [
        "sign_in",
        "linkage.review.list",
        "linkage.review.show",
        "linkage.review.show",
        "linkage.review.accept",
        "linkage.review.list",
    ]


DESKTOP = {"width": 1280, "height": 800}


@pytest.fixture
def twin_site(index_url: str, data_dir: Path) -> Iterator[tuple[str, int, int]]:
    """An ordinary open review (Maisie and Maisy, home educated) and a twin-shaped one (Isla
    and Poppy, social care knowing one, an NHS number failing its check digit)."""
    with session_factory(index_url).begin() as session:
        add_population(session)
        plain = add_review_pair(session)
        twins = add_twin_pair(session)
    with served(create_app(index_url)) as base:
        yield base, plain, twins


def test_twins_are_flagged_first_and_accepting_them_takes_two_reviewers(
    browser: Browser, twin_site: tuple[str, int, int], index_url: str, tmp_path: Path
) -> None:
    """At 1,280 px and at 375 px (``Visit.check``: nothing scrolls sideways on a phone)."""
    site, plain, twins = twin_site
    visit = Visit(browser.new_page(java_script_enabled=False, viewport=DESKTOP), tmp_path)
    page = visit.page
    visit.sign_in(site, "Dev Dawson")
    page.get_by_role("link", name="Review queue").first.click()
    rows = page.locator("tbody tr")
    expect(rows.first).to_contain_text(f"Review {twins}")
    expect(rows.first).to_contain_text("these look like twins")
    expect(rows.first).to_contain_text("fails its check digit")
    expect(rows.first).to_contain_text("Social care knows one side")
    expect(rows.first).not_to_contain_text("0.9999")
    expect(rows.nth(1)).to_contain_text("Match probability 0.930")
    expect(rows.nth(1)).to_contain_text(f"Review {plain}")
    visit.check("review-queue-conflicts")

    rows.first.get_by_role("link", name=f"Review {twins}").click()
    warning = page.locator(".gateway-conflicts")
    expect(warning).to_contain_text(
        "These look like twins: same birth date and family name, different first names"
    )
    expect(warning).to_contain_text("a second reviewer")
    expect(page.get_by_text("Match probability")).to_have_count(0)
    pair = page.locator("table").first
    expect(pair).to_contain_text("not compared: an NHS number fails its check digit")
    expect(pair).to_contain_text("given name differs")
    expect(page.locator("body")).not_to_contain_text("+0.00")  # table, waterfall and chart
    visit.check("review-twins")
    page.get_by_label("Why you decided").fill("same")
    page.get_by_role("button", name="Accept: the same child (first of two reviewers)").click()
    expect(page.locator(".govuk-error-summary")).to_contain_text("at least 10 characters")
    page.get_by_label("Why you decided").fill("GP confirms one registration for this child")
    page.get_by_role("button", name="Accept: the same child (first of two reviewers)").click()
    expect(page.locator(".govuk-notification-banner")).to_contain_text(
        f"Review {twins} accepted by you, awaiting a second reviewer"
    )
    expect(rows.first).to_contain_text("Accepted by dev.data, awaiting a second reviewer")
    visit.check("review-awaiting-second")
    rows.first.get_by_role("link", name=f"Review {twins}").click()
    expect(page.locator("#four-eyes")).to_contain_text("A different reviewer must confirm it")
    expect(
        page.get_by_role("button", name="Confirm: the same child (second reviewer)")
    ).to_have_count(0)
    visit.check("review-first-reviewer-waits")

    second = Visit(browser.new_page(java_script_enabled=False, viewport=DESKTOP), tmp_path)
    second.sign_in(site, "Ada Adams")
    second.page.goto(f"{site}/reviews/{twins}")
    expect(second.page.locator("#first-acceptance")).to_contain_text(
        "Accepted by dev.data, awaiting a second reviewer"
    )
    second.check("review-second-reviewer")
    second.page.get_by_label("Why you decided").fill("Checked with the GP practice: one child")
    second.page.get_by_role("button", name="Confirm: the same child (second reviewer)").click()
    expect(second.page.locator(".govuk-notification-banner")).to_contain_text(
        f"Review {twins} accepted"
    )
    expect(second.page.locator("tbody tr")).to_have_count(1)  # the ordinary pair is left
    second.check("review-confirmed")
    with session_factory(index_url)() as session:
        review = session.get(LinkReview, twins)
        assert review is not None
        assert (review.status, review.first_accepted_by, review.decided_by) == (
            "accepted",
            "dev.data",
            "ada.admin",
        )
        joined = session.get(Link, ("health__fhir_patient", "t2"))
        assert joined is not None and (joined.child_id, joined.origin) == ("C-T1", "MANUAL")
    decided = [(e.action, e.actor) for e in _audit(index_url) if "accept" in e.action]
    assert decided == [
        ("linkage.review.accept_first", "dev.data"),
        ("linkage.review.accept", "ada.admin"),
    ]
    assert not [u for u in visit.urls + second.urls if "Isla" in u or "9434765918" in u]


@pytest.mark.parametrize("index_url", ["sqlite"], indirect=True)
def test_a_social_worker_breaks_the_glass_from_a_refused_lookup(
    browser: Browser, hand_made_site: str, index_url: str, tmp_path: Path
) -> None:
    visit = Visit(browser.new_page(java_script_enabled=False), tmp_path)
    page = visit.page
    visit.sign_in(hand_made_site, "Sam Shaw")
    visit.look_up("C-A", "EHE suitability enquiry / children missing education")
    expect(page.get_by_role("heading", level=1)).to_have_text("You cannot see this child's record")
    expect(page.get_by_role("heading", level=2, name="Break the glass")).to_be_visible()
    visit.check("break-glass-offer")
    expect(page.locator("main")).to_contain_text("What you can do next")
    first_reason = page.locator("main p.govuk-body").first.text_content()
    page.get_by_label("Why you need to see this child's record now").fill("urgent")
    page.get_by_role("button", name="Break the glass and show the record").click()
    expect(page.locator(".govuk-error-summary")).to_contain_text("at least 20 characters")
    # The same page and words as before, with what was typed kept to be lengthened.
    expect(page.get_by_role("heading", level=1)).to_have_text("You cannot see this child's record")
    expect(page.locator("main p.govuk-body").first).to_have_text(str(first_reason))
    expect(page.get_by_label("Why you need to see this child's record now")).to_have_value("urgent")
    visit.check("break-glass-offer-error")
    page.get_by_label("Why you need to see this child's record now").fill(
        "Child seen with injuries at a home visit; school place unknown"
    )
    page.get_by_role("button", name="Break the glass and show the record").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Who else knows this child")
    expect(page.locator(".govuk-inset-text")).to_contain_text("break-glass override")
    visit.check("break-glass-summary")
    assert not [url for url in visit.urls if "C-A" in url], "identifiers never in a URL"
    outcomes = [(e.action, e.outcome) for e in _audit(index_url) if e.child_id == "C-A"]
    assert outcomes == [
        ("lookup", "refused"),
        ("break_glass", "refused"),
        ("break_glass", "recorded"),
        ("lookup", "break_glass"),
    ]
