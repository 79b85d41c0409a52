"""The replay page in a real browser (Debian's chromium driven by Playwright, checked by axe at
1,280 px and 375 px): an IG officer fills the form wrongly, is told what to fix, then sees the
three parts; the page works without JavaScript. SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from index_builder import add_population
from playwright.sync_api import Browser, expect
from test_web_browser import SUFFIX, Visit, _audit, browser  # noqa: F401 (the fixture)
from web_support import served

from gateway.api.app import create_app
from gateway.store.engine import session_factory


@pytest.fixture
def site(index_url: str, data_dir: Path) -> Iterator[str]:
    with session_factory(index_url).begin() as session:
        add_population(session)
    with served(create_app(index_url)) as base:
        yield base


def test_an_ig_officer_replays_a_lookup(
    browser: Browser,  # noqa: F811
    site: str,
    index_url: str,
    tmp_path: Path,
) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 900}, java_script_enabled=False)
    visit = Visit(page, tmp_path)
    visit.sign_in(site, "Iris Ingram")
    page.get_by_role("link", name="Replay").click()
    expect(page).to_have_title("Replay a lookup" + SUFFIX)
    visit.check("replay-form")
    page.get_by_label("Child id").fill("C-A")
    page.get_by_role("button", name="Replay").click()
    expect(page.get_by_text("There is a problem")).to_be_visible()
    visit.check("replay-errors")
    at = (datetime.now(UTC) + timedelta(seconds=1)).strftime("%Y-%m-%d %H:%M:%S")
    page.get_by_label("Date and time").fill(at)
    page.get_by_label("Role").select_option("ehe_officer")
    page.get_by_label("Organisation").fill("North Yorkshire Council")
    page.get_by_label("EHE suitability enquiry", exact=False).first.check()
    page.get_by_role("button", name="Replay").click()
    expect(page.get_by_role("heading", name="1. What the index held")).to_be_visible()
    expect(page.get_by_role("heading", name="2. What a lookup would have answered")).to_be_visible()
    expect(page.get_by_role("heading", name="3. Who looked, up to then")).to_be_visible()
    expect(page.get_by_text("education__ehe_register/a1").first).to_be_visible()
    visit.check("replay-result")
    assert [e.outcome for e in _audit(index_url) if e.action == "replay"] == ["replayed"]
