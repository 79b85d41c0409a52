"""The caseload, the summary's first facts and the no-match answer in a real browser (Debian's
chromium driven by Playwright), at 1,280 px and at 375 px (``Visit.check``: nothing scrolls
sideways on a phone), on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from index_builder import CARE, EHE, add_child, add_population, record
from playwright.sync_api import Browser, expect
from test_web_browser import SUFFIX, Visit, _audit, browser  # noqa: F401 (the fixture)
from web_support import populate, served

from gateway.api.app import create_app
from gateway.store.engine import session_factory
from gateway.store.tables import HeldRecord

DESKTOP = {"width": 1280, "height": 900}
HELD_NHS = "9434765919"  # passes its check digit; on C-H's register record and the held one


@pytest.fixture
def populated_site(index_url: str, inbox: Path, data_dir: Path) -> Iterator[str]:
    populate(index_url)
    with served(create_app(index_url)) as base:
        yield base


def _held_case_record() -> str:
    """A social care record of C-H that validation held (no birth date), as the index keeps it."""
    held = record(
        CARE,
        "P-held",
        {"given_name": "Hal", "family_name": "Hood", "nhs_number": HELD_NHS},
        social_care={"referrals": [{"start_date": "2026-06-01"}]},
    )
    return json.dumps(held)


@pytest.fixture
def held_site(index_url: str, data_dir: Path) -> Iterator[str]:
    """The hand-made population, and C-H: on the EHE register; social care's record of him is
    held for a data-quality check since 3 October 2026."""
    with session_factory(index_url).begin() as session:
        add_population(session)
        who = {"given_name": "Hal", "family_name": "Hood", "birth_date": "2014-05-06"}
        register = record(
            EHE,
            "h1",
            {**who, "nhs_number": HELD_NHS},
            education={"ehe": [{"registered_on": "2026-09-01"}]},
        )
        add_child(session, "C-H", [register])
        session.add(
            HeldRecord(
                batch_id="social_care__case_db-b1",
                source=CARE,
                item_key="P-held",
                stage="validation",
                status="quarantined",
                reasons=[{"stage": "validation", "rule": "birth date present"}],
                payload=_held_case_record(),
                created_at=datetime(2026, 10, 3, 7, 0, tzinfo=UTC),
            )
        )
    with served(create_app(index_url)) as base:
        yield base


def _officer(browser: Browser, site: str, shots: Path) -> Visit:  # noqa: F811
    """An EHE officer signed in, on a desktop-sized page that runs no JavaScript."""
    visit = Visit(browser.new_page(viewport=DESKTOP, java_script_enabled=False), shots)
    visit.sign_in(site, "Erin Ellis")
    return visit


def test_the_caseload_in_bands_with_reasons_filters_and_pages(
    browser: Browser,  # noqa: F811
    populated_site: str,
    index_url: str,
    tmp_path: Path,
) -> None:
    visit = _officer(browser, populated_site, tmp_path)
    page = visit.page
    page.get_by_role("link", name="EHE caseload").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("EHE caseload")
    rows = page.locator("tbody tr")
    first = rows.first
    expect(first.locator("td").first).to_contain_text("Act now")
    expect(first.locator("th")).to_contain_text("born")  # initials and birth date
    visit.check("caseload")
    shown_first = rows.count()
    assert 0 < shown_first <= 25, "one page at a time"

    # Filter to the band "check": every row says it, and the count says the filters apply.
    page.get_by_text("Filter the caseload").click()
    page.get_by_label("Band").select_option("check")
    page.get_by_role("button", name="Apply filters").click()
    expect(page.locator("#caseload-count")).to_contain_text("match the filters")
    bands = page.locator("tbody tr td:first-of-type .govuk-tag").all_inner_texts()
    assert bands and {b.strip().lower() for b in bands} == {"check"}
    visit.check("caseload-check-band")

    # Unseen and no GP: the reasons say so in words.
    page.goto(populated_site + "/worklist?unseen=true&no_gp=true&months=6")
    for reason in page.locator("tbody tr td:first-of-type li").all_inner_texts()[:5]:
        assert reason[:1].isupper() and "_" not in reason
    visit.check("caseload-unseen-no-gp")

    # Paging: the next page has other children.
    page.goto(populated_site + "/worklist")
    next_link = page.get_by_role("link", name="Next page")
    if next_link.count():
        ids = page.locator(".gateway-child-id").all_inner_texts()
        next_link.click()
        assert not set(ids) & set(page.locator(".gateway-child-id").all_inner_texts())
        visit.check("caseload-page-2")

    views = [e for e in _audit(index_url) if e.action == "caseload"]
    assert len(views) >= 3
    named = [f for f in views[0].fields_disclosed if f.startswith("child:")]
    assert len(named) == shown_first, "one audit entry naming exactly the children shown"


def test_the_summary_leads_with_plan_open_case_last_seen_and_held_records(
    browser: Browser,  # noqa: F811
    held_site: str,
    index_url: str,
    tmp_path: Path,
) -> None:
    visit = _officer(browser, held_site, tmp_path)
    page = visit.page
    visit.look_up("C-A", "EHE suitability enquiry / children missing education")
    first = page.locator("#what-matters li")
    expect(first.first).to_contain_text("On a child protection plan now")
    expect(page.locator("#what-matters")).to_contain_text("Open to children's social care now")
    expect(page.locator("#what-matters")).to_contain_text("Not seen by any agency")
    visit.check("summary-what-matters")

    visit.look_up(HELD_NHS, "EHE suitability enquiry / children missing education")
    expect(page.locator("#what-matters")).to_contain_text(
        "A social care record about this child is held for a data-quality check since "
        "3 October 2026"
    )
    assert "Hood" not in page.content(), "a held record's content is never shown"
    visit.check("summary-held-record")

    page.get_by_role("link", name="EHE caseload").first.click()
    row = page.locator("tbody tr", has_text="HH")
    expect(row).to_contain_text("Social care record held for a data-quality check")
    expect(row).to_contain_text("held for a data-quality check since 3 October 2026")
    visit.check("caseload-held-record")


def test_no_match_names_the_sources_searched_and_offers_the_name_search(
    browser: Browser,  # noqa: F811
    populated_site: str,
    index_url: str,
    tmp_path: Path,
) -> None:
    visit = _officer(browser, populated_site, tmp_path)
    page = visit.page
    visit.look_up(HELD_NHS, "EHE suitability enquiry / children missing education")
    expect(page).to_have_title("No child in the index has this NHS number" + SUFFIX)
    sources = page.locator("#sources-searched tbody tr")
    assert sources.count() >= 5
    expect(page.locator("#sources-searched")).to_contain_text("Children's social care")
    expect(sources.first.locator("td")).not_to_have_text("Never")
    visit.check("no-match")
    page.locator("#people-search-link").click()
    expect(page.get_by_label("Last name")).to_be_visible()
    outcomes = [(e.action, e.outcome) for e in _audit(index_url)]
    assert ("lookup", "not_found") in outcomes
