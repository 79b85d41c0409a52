"""The team inbox in a real browser (Debian's chromium driven by Playwright): an EHE officer
opens the inbox from the header, sees the alerts (ids, events, dates; a restricted child's
event not named), opens a child from one, states the purpose and sees the summary the policy
point allows; axe-core and the page checks at 1,280 and 375 px (``Visit.check``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from notify_support import build_alert_index
from playwright.sync_api import Browser, expect
from test_web_browser import SUFFIX, Visit, _audit, browser  # noqa: F401 (the fixture)
from web_support import served

from gateway.api.app import create_app
from gateway.notify.run import notify_teams

DESKTOP = {"width": 1280, "height": 900}


@pytest.fixture
def alerted_site(index_url: str, data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.delenv("EHE_SMTP_HOST", raising=False)
    build_alert_index(index_url)
    notify_teams(index_url)
    with served(create_app(index_url)) as base:
        yield base


def test_an_officer_opens_a_child_from_the_team_inbox(
    browser: Browser,  # noqa: F811
    alerted_site: str,
    index_url: str,
    tmp_path: Path,
) -> None:
    context = browser.new_context(viewport=DESKTOP)
    visit = Visit(context.new_page(), tmp_path)
    visit.sign_in(alerted_site, "Erin Ellis")
    page = visit.page
    page.get_by_role("link", name="Team inbox").click()
    expect(page).to_have_title("Team inbox" + SUFFIX)
    visit.check("team-inbox")
    rows = page.locator("#inbox tbody tr")
    expect(rows).to_have_count(5)
    expect(page.get_by_text("Became known to social care while home educated")).to_be_visible()
    expect(page.locator("#inbox")).not_to_contain_text("Amelia")
    page.get_by_role("link", name="Open child C-A").first.click()
    expect(page).to_have_title("Why do you need to know?" + SUFFIX)
    visit.check("team-inbox-purpose")
    page.get_by_label("EHE suitability enquiry / children missing education").check()
    page.get_by_role("button", name="Show what is known").click()
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    assert "C-A" not in "".join(u for u in visit.urls if "/summary" in u)
    actions = [(e.action, e.child_id) for e in _audit(index_url)]
    assert ("notify_inbox", None) in actions and ("lookup", "C-A") in actions
    context.close()
