"""The lookup by child id on PostgreSQL's event-loop path (``gateway.policy.async_lookup``):
the same answer and audit entry as ``disclose``, and a chain that verifies after many
concurrent lookups."""

from __future__ import annotations

import concurrent.futures
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from api_server import bearer, serving
from sqlalchemy import select, update

from gateway.access.agreements import load_agreements
from gateway.access.audit import Actor
from gateway.access.audit_integrity import chain_findings
from gateway.access.purposes import PURPOSES
from gateway.access.users import load_demo_users
from gateway.api.app import create_app
from gateway.pipeline import ingest, link_children
from gateway.policy.disclosure import disclose
from gateway.read_model import child_with_records, refresh_restricted
from gateway.store.engine import session_factory
from gateway.store.tables import AuditEntry, AuditHead, Child, Link, SourceRecord

pytestmark = pytest.mark.parametrize("index_url", ["postgresql"], indirect=True)


@pytest.fixture
def api(index_url: str, inbox: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[httpx.Client]:
    monkeypatch.setenv("EHE_RATE_LIMIT_PER_MINUTE", "100000")  # many lookups, one user
    monkeypatch.setenv("EHE_RATE_LIMIT_BURST", "100000")
    for source in ("health__fhir_patient", "social_care__case_db", "education__ehe_register"):
        ingest(source, index_url=index_url)
    link_children(index_url)
    app = create_app(index_url)
    assert app.state.async_lookups is not None  # the path under test
    with serving(app) as client:
        yield client


def _children(index_url: str, n: int) -> list[str]:
    with session_factory(index_url)() as session:
        return list(
            session.scalars(
                select(Child.child_id)
                .where(Child.merged_into.is_(None))
                .order_by(Child.child_id)
                .limit(n)
            )
        )


@pytest.mark.parametrize("label", ["none", "child", "record"])
def test_the_answer_and_its_audit_entry_are_those_disclose_gives(
    api: httpx.Client, index_url: str, label: str
) -> None:
    """Also when the child, or one of its records, is labelled restricted (the statement
    decides which entry to write from the labels it reads)."""
    child_id = _children(index_url, 1)[0]
    with session_factory(index_url).begin() as session:
        if label == "child":
            session.execute(update(Child).where(Child.child_id == child_id).values(restricted=True))
        elif label == "record":
            record = session.scalars(
                select(SourceRecord)
                .join(
                    Link,
                    (Link.source == SourceRecord.source)
                    & (Link.record_id == SourceRecord.record_id),
                )
                .where(Link.child_id == child_id, SourceRecord.is_current.is_(True))
                .limit(1)
            ).one()
            identity = {**record.payload["identity"], "restricted": True}
            record.payload = {**record.payload, "identity": identity}
            record.restricted = True
            session.flush()
            refresh_restricted(session, [child_id])  # as loading a labelled version does
    answer = api.post(
        "/api/v1/lookup",
        json={"child_id": child_id, "purpose": "ehe_enquiry"},
        headers=bearer("erin.ehe"),
    )
    assert answer.status_code == 200, answer.text
    user = load_demo_users()["erin.ehe"]
    actor = Actor(user.name, user.organisation, user.role)
    with session_factory(index_url)() as session:
        child = child_with_records(session, child_id)
        assert child is not None
        expected = disclose(
            session, actor, PURPOSES["ehe_enquiry"], child, agreements=load_agreements()
        )
        session.rollback()  # the comparison's own entry is not kept
        entries = session.scalars(select(AuditEntry)).all()
    assert answer.json() == expected.model_dump(mode="json")
    assert len(entries) == 1
    entry = entries[0]
    assert (entry.actor, entry.organisation, entry.role) == (
        user.name,
        user.organisation,
        user.role,
    )
    outcome = "disclosed" if label == "none" else "restricted"
    assert (entry.action, entry.outcome, entry.child_id) == ("lookup", outcome, child_id)
    assert answer.json()["restricted"] is (label != "none")
    assert entry.purpose == "ehe_enquiry"
    assert entry.agreement_clause == expected.agreement_clause
    assert entry.fields_disclosed == expected.fields_disclosed
    assert entry.fields_refused == expected.fields_refused
    assert entry.at <= datetime.now(UTC)


def test_concurrent_lookups_each_leave_one_entry_and_every_chain_verifies(
    api: httpx.Client, index_url: str
) -> None:
    children = _children(index_url, 8)
    wanted = [children[n % len(children)] for n in range(120)]
    headers = bearer("erin.ehe")

    def look(child_id: str) -> int:
        body = {"child_id": child_id, "purpose": "ehe_enquiry"}
        return api.post("/api/v1/lookup", json=body, headers=headers).status_code

    with concurrent.futures.ThreadPoolExecutor(max_workers=12) as pool:
        statuses = list(pool.map(look, wanted))
    assert statuses == [200] * len(wanted)
    with session_factory(index_url)() as session:
        entries = session.scalars(select(AuditEntry).order_by(AuditEntry.seq)).all()
        assert sorted(e.child_id or "" for e in entries) == sorted(wanted)
        assert len({e.prev_hash for e in entries}) == len(entries)  # no chain forked
        assert chain_findings(session) == []
        heads = dict(session.execute(select(AuditHead.id, AuditHead.entry_hash)).all())
        for chain in {e.chain for e in entries}:  # each head names the last entry of its chain
            assert heads[chain] == [e for e in entries if e.chain == chain][-1].entry_hash


def test_an_unknown_child_is_refused_and_recorded_once(api: httpx.Client, index_url: str) -> None:
    missing = api.post(
        "/api/v1/lookup",
        json={"child_id": "C-NOSUCHCHILD", "purpose": "ehe_enquiry"},
        headers=bearer("erin.ehe"),
    )
    assert missing.status_code == 404
    with session_factory(index_url)() as session:
        outcomes = session.scalars(select(AuditEntry.outcome)).all()
    assert outcomes == ["not_found"]
