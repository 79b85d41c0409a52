"""The assurance report's page over real HTTP: IG officers only, the period asked in date boxes,
the report inside the service with accessible charts, HTML/CSV downloads, every use audited."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from index_builder import add_population
from sqlalchemy import select
from web_support import served

from gateway.api.app import create_app
from gateway.store.engine import session_factory
from gateway.store.tables import AuditEntry

pytestmark = pytest.mark.parametrize("index_url", ["sqlite"], indirect=True)
PERIOD = {"from-day": "1", "from-month": "12", "from-year": "2025"}
PERIOD |= {"to-day": "29", "to-month": "11", "to-year": "2026"}


@pytest.fixture
def client(index_url: str, data_dir: Path) -> Iterator[httpx.Client]:
    with session_factory(index_url).begin() as session:
        add_population(session)
    with served(create_app(index_url)) as base, httpx.Client(base_url=base, timeout=30) as http:
        yield http


def _actions(index_url: str) -> list[tuple[str, str]]:
    with session_factory(index_url)() as session:
        entries = session.scalars(select(AuditEntry).where(AuditEntry.action == "report_assurance"))
        return [(e.actor, e.outcome) for e in entries]


def test_only_ig_officers_open_it(client: httpx.Client, index_url: str) -> None:
    assert client.get("/reports/assurance").headers.get("location") == "/sign-in"
    client.post("/sign-in", data={"user": "erin.ehe"})
    assert client.get("/reports/assurance", params=PERIOD).status_code == 403
    assert client.get("/reports/assurance/csv", params=PERIOD).status_code == 403
    assert _actions(index_url) == []


def test_the_report_is_a_page_with_downloads_and_every_use_is_audited(
    client: httpx.Client, index_url: str
) -> None:
    client.post("/sign-in", data={"user": "iris.ig"})
    start = client.get("/")
    assert 'href="/reports/assurance"' in start.text
    form = client.get("/reports/assurance")
    assert form.status_code == 200 and 'name="from-day"' in form.text
    missing = client.get("/reports/assurance", params={"from-day": "1"})
    assert missing.status_code == 400 and "Enter the end date" in missing.text
    shown = client.get("/reports/assurance", params=PERIOD)
    assert shown.status_code == 200, shown.text[-500:]
    assert "1 December 2025 to 29 November 2026" in shown.text
    assert shown.text.count('role="img"') == 2 and "<title id=" in shown.text
    assert "fewer than 5" in shown.text and "C-A" not in shown.text
    csv = client.get("/reports/assurance/csv", params=PERIOD)
    assert csv.headers["content-type"].startswith("text/csv")
    assert csv.text.startswith("period,kind,from,to,figure")
    assert "C-A" not in csv.text and "Amelia" not in csv.text
    html = client.get("/reports/assurance/html", params=PERIOD)
    assert "attachment" in html.headers["content-disposition"] and "<!DOCTYPE html>" in html.text
    assert _actions(index_url) == [
        ("iris.ig", "viewed"),
        ("iris.ig", "exported"),
        ("iris.ig", "exported"),
    ]
