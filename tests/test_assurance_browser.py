"""The assurance report's page in a real browser (Debian's chromium, Playwright) over real
HTTP: an IG officer opens it from the header, asks for a period in the date boxes, reads it
(charts with accessible names, no sideways scrolling on a phone, axe-core clean at both widths)
and downloads the CSV and the PDF."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from axe_check import axe_available, in_ci
from index_builder import add_population
from playwright.sync_api import Browser, expect
from test_web_browser import Visit
from web_support import served

from gateway.api.app import create_app
from gateway.store.engine import session_factory


@pytest.fixture
def site(index_url: str, data_dir: Path) -> Iterator[str]:
    with session_factory(index_url).begin() as session:
        add_population(session)
    with served(create_app(index_url)) as base:
        yield base


@pytest.mark.parametrize("index_url", ["sqlite"], indirect=True)
def test_an_ig_officer_reads_and_downloads_the_assurance_report(
    browser: Browser, site: str, tmp_path: Path
) -> None:
    if not axe_available():
        message = "axe-core is not installed: run `npm ci` in tests/axe"
        if in_ci():
            pytest.fail(message)
        pytest.skip(message)
    visit = Visit(browser.new_page(java_script_enabled=False), tmp_path)
    page = visit.page
    visit.sign_in(site, "Iris Ingram")
    page.get_by_role("link", name="Assurance report").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Partnership assurance report")
    visit.check("assurance-form")
    page.get_by_role("button", name="Show the report").click()  # the default: last 30 days
    expect(page.get_by_role("heading", level=1)).to_have_text("Partnership assurance report")
    page.goto(site + "/reports/assurance")
    for field, value in (("from", ("1", "12", "2025")), ("to", ("29", "11", "2026"))):
        for part, typed in zip(("Day", "Month", "Year"), value, strict=True):
            page.get_by_label(f"{part} ({field})").fill(typed)
    page.get_by_role("button", name="Show the report").click()
    expect(page.locator('[aria-current="page"]')).to_have_text("Assurance report")
    expect(page.locator(".figures")).to_contain_text("On the EHE register")
    expect(page.locator("main")).to_contain_text("fewer than 5")
    charts = page.locator(".chart svg")
    expect(charts).to_have_count(2)
    for n in range(2):
        expect(charts.nth(n)).to_have_attribute("role", "img")
        assert charts.nth(n).locator("title").text_content()
    visit.check("assurance-report")
    csv_link = page.get_by_role("link", name=re.compile("Spreadsheet"))
    answer = page.request.get(site + str(csv_link.get_attribute("href")))
    assert answer.ok and answer.text().startswith("period,kind,from,to,figure")
    pdf_link = page.get_by_role("link", name=re.compile("PDF"))
    answer = page.request.get(site + str(pdf_link.get_attribute("href")))
    assert answer.ok and answer.body().startswith(b"%PDF")
