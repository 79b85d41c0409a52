"""The replay's command and page: IG officers only, audited, the three parts shown; and what a
replay says of links that have no history (made before link history, or by hand)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from index_builder import add_population
from sqlalchemy import select
from typer.testing import CliRunner
from web_support import served

from gateway.access.agreements import load_agreements
from gateway.access.audit import Actor
from gateway.access.purposes import PURPOSES
from gateway.api.app import create_app
from gateway.cli import app
from gateway.policy.replay import ReplayRefusedError, replay
from gateway.store.engine import session_factory
from gateway.store.tables import AuditEntry

runner = CliRunner()
EHE_OFFICER = Actor("e.officer", "North Yorkshire Council", "ehe_officer")


def _replays(index_url: str) -> list[AuditEntry]:
    with session_factory(index_url)() as session:
        query = select(AuditEntry).where(AuditEntry.action == "replay").order_by(AuditEntry.seq)
        return list(session.scalars(query))


def test_only_ig_officers_replay_and_a_refusal_is_audited(index_url: str) -> None:
    with session_factory(index_url).begin() as session:
        add_population(session)
    with session_factory(index_url)() as session:
        with pytest.raises(ReplayRefusedError):
            replay(
                session,
                EHE_OFFICER,
                "C-A",
                datetime.now(UTC),
                actor=EHE_OFFICER,
                purpose=PURPOSES["ehe_enquiry"],
                agreements=load_agreements(),
            )
        session.commit()
    (refused,) = _replays(index_url)
    assert (refused.outcome, refused.actor, refused.child_id) == ("refused", "e.officer", "C-A")


def test_links_without_history_are_named_and_a_child_not_yet_made_is_not_found(
    index_url: str,
) -> None:
    with session_factory(index_url).begin() as session:
        add_population(session)  # links written by hand: no link events
    ig = Actor("i.officer", "North Yorkshire Council", "ig_officer")
    asked = {"actor": EHE_OFFICER, "purpose": PURPOSES["ehe_enquiry"]}
    with session_factory(index_url)() as session:
        now = replay(session, ig, "C-A", datetime.now(UTC), agreements=load_agreements(), **asked)
        before = replay(
            session,
            ig,
            "C-A",
            datetime.now(UTC) - timedelta(days=1),
            agreements=load_agreements(),
            **asked,
        )
        session.commit()
    assert now.outcome == "disclosed" and len(now.child.links) == 3
    assert all("no history" in gap for gap in now.child.gaps) and len(now.child.gaps) == 3
    assert now.answer is not None and now.answer.summary["education"]["ehe_status"]
    assert before.child.child_id is None and before.outcome == "not_found"


def test_the_command_prints_the_three_parts_and_json(
    index_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EHE_INDEX_URL", index_url)
    with session_factory(index_url).begin() as session:
        add_population(session)
    at = (datetime.now(UTC) + timedelta(seconds=1)).isoformat()
    common = ["replay", "--as-of", at, "--child", "C-A", "--role", "ehe_officer"]
    common += ["--organisation", "North Yorkshire Council", "--purpose", "ehe_enquiry"]
    common += ["--by", "i.officer"]
    text = runner.invoke(app, common)
    assert text.exit_code == 0, text.output
    for part in ("1. What the index held", "2. What a lookup would have answered", "3. Who"):
        assert part in text.output
    assert "configured now" in text.output and "outcome: disclosed" in text.output
    shown = runner.invoke(app, [*common, "--json"])
    assert shown.exit_code == 0, shown.output
    answer = json.loads(shown.output)
    assert answer["lookup"]["outcome"] == "disclosed"
    assert len(answer["held"]["record_versions"]) == 3
    assert answer["lookup"]["answer_digest"] and answer["looked"][0]["action"] == "replay"
    bad = runner.invoke(app, ["replay", "--as-of", "yesterday", *common[3:]])
    assert bad.exit_code == 2 and "--as-of" in bad.output
    assert len(_replays(index_url)) == 2


@pytest.fixture
def client(index_url: str, data_dir: Path) -> Iterator[httpx.Client]:
    with session_factory(index_url).begin() as session:
        add_population(session)
    with served(create_app(index_url)) as base, httpx.Client(base_url=base, timeout=10) as http:
        yield http


def _sign_in(client: httpx.Client, user: str) -> str:
    assert client.post("/sign-in", data={"user": user}).status_code == 303
    token = re.search(r'name="csrf" value="([^"]+)"', client.get("/").text)
    assert token
    return token.group(1)


@pytest.mark.parametrize("index_url", ["sqlite"], indirect=True)
def test_the_page_is_for_ig_officers_and_shows_the_three_parts(
    client: httpx.Client, index_url: str
) -> None:
    _sign_in(client, "erin.ehe")
    assert client.get("/replay").status_code == 403
    client.post("/sign-out", data={})
    client.cookies.clear()
    token = _sign_in(client, "iris.ig")
    form = client.get("/replay")
    assert form.status_code == 200 and 'href="/replay"' in form.text
    wrong = client.post("/replay", data={"child": "A", "at": "soon", "csrf": token})
    assert wrong.status_code == 400 and "There is a problem" in wrong.text
    assert 'href="#at"' in wrong.text and 'href="#purpose"' in wrong.text
    asked = {
        "child": "C-A",
        "at": (datetime.now(UTC) + timedelta(seconds=1)).strftime("%Y-%m-%d %H:%M:%S"),
        "role": "ehe_officer",
        "organisation": "North Yorkshire Council",
        "purpose": "ehe_enquiry",
        "csrf": token,
    }
    shown = client.post("/replay", data=asked)
    assert shown.status_code == 200, shown.text
    for part in ("1. What the index held", "2. What a lookup would have answered", "3. Who"):
        assert part in shown.text
    assert "education__ehe_register/a1" in shown.text and "disclosed" in shown.text
    (entry,) = _replays(index_url)
    assert (entry.actor, entry.outcome, entry.child_id) == ("iris.ig", "replayed", "C-A")
