"""The team inbox page over real HTTP: each person sees their team's alerts (organisation and
role from the session), ids and events only, each linking to the lookup flow's purpose
question; a person of no team's inbox is refused; showing the inbox is audited."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from notify_support import NHS_F, build_alert_index
from sqlalchemy import select
from web_support import served

from gateway.api.app import create_app
from gateway.notify.run import notify_teams
from gateway.store.engine import session_factory
from gateway.store.tables import AuditEntry

pytestmark = pytest.mark.parametrize("index_url", ["sqlite"], indirect=True)
PERSONAL = ("Amelia", "Hart", "Evie", "Marsh", "Leo", "Quinn", "Rosa", NHS_F, "2015-03-07")


@pytest.fixture
def client(
    index_url: str, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[httpx.Client]:
    monkeypatch.delenv("EHE_SMTP_HOST", raising=False)  # the demo's outbox
    build_alert_index(index_url)
    notify_teams(index_url)  # the demo agreement's inboxes: ehe-team and mast
    with served(create_app(index_url)) as base, httpx.Client(base_url=base, timeout=10) as http:
        yield http


def _sign_in(client: httpx.Client, user: str) -> str:
    assert client.post("/sign-in", data={"user": user}).status_code == 303
    token = re.search(r'name="csrf" value="([^"]+)"', client.get("/").text)
    assert token
    return token.group(1)


def _children(page: str) -> set[str]:
    return set(re.findall(r'href="/inbox/child/(C-[A-Z])"', page))


def test_each_team_sees_its_own_alerts_and_nothing_about_the_child(
    client: httpx.Client, index_url: str
) -> None:
    _sign_in(client, "erin.ehe")
    home = client.get("/").text
    assert 'href="/inbox"' in home
    inbox = client.get("/inbox")
    assert inbox.status_code == 200
    assert _children(inbox.text) == {"C-A", "C-E", "C-F", "C-R"}
    assert "the child&#39;s record is restricted" in inbox.text
    assert "Became known to social care while home educated" in inbox.text
    for value in PERSONAL:
        assert value not in inbox.text, value
    with session_factory(index_url)() as session:
        entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "notify_inbox")).one()
    assert (entry.actor, entry.outcome) == ("erin.ehe", "viewed")
    assert entry.fields_disclosed == ["child:C-A", "child:C-E", "child:C-F", "child:C-R"]

    client.post("/sign-out", data={"csrf": _sign_in(client, "erin.ehe")})
    _sign_in(client, "sam.social")
    # the screening team's events only: removals while known and unseen
    assert _children(client.get("/inbox").text) == {"C-A", "C-R"}


def test_the_link_asks_the_purpose_and_the_lookup_goes_through_the_policy(
    client: httpx.Client, index_url: str
) -> None:
    token = _sign_in(client, "erin.ehe")
    asked = client.get("/inbox/child/C-A")
    assert asked.status_code == 200
    assert "Why do you need to know?" in asked.text and 'value="C-A"' in asked.text
    assert "Amelia" not in asked.text
    shown = client.post(
        "/summary", data={"identifier": "C-A", "purpose": "ehe_enquiry", "csrf": token}
    )
    assert shown.status_code == 200
    with session_factory(index_url)() as session:
        lookups = session.scalars(select(AuditEntry).where(AuditEntry.action == "lookup")).all()
    assert [(e.child_id, e.purpose) for e in lookups] == [("C-A", "ehe_enquiry")]


def test_a_person_of_no_inbox_is_refused(client: httpx.Client) -> None:
    _sign_in(client, "hana.health")
    assert 'href="/inbox"' not in client.get("/").text
    assert client.get("/inbox").status_code == 403
