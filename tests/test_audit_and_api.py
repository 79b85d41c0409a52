"""Lookups over real HTTP on loopback: purpose required, minimised answer, audit chain."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
from api_server import bearer, serving
from sqlalchemy import select, text, update

from gateway.access.audit import Actor, AuditEvent, append
from gateway.access.audit_integrity import chain_findings
from gateway.api.app import create_app
from gateway.pipeline import ingest, link_children
from gateway.store.engine import session_factory
from gateway.store.tables import AuditEntry, AuditHead, SourceRecord


def test_audit_chain_detects_tampering(index_url: str) -> None:
    actor = Actor("u", "org", "ehe_officer")
    with session_factory(index_url).begin() as session:
        for n in range(5):
            append(
                session,
                AuditEvent(
                    actor=actor,
                    action="lookup",
                    outcome="disclosed",
                    purpose="ehe_enquiry",
                    child_id=f"C-{n}",
                ),
            )
    with session_factory(index_url)() as session:
        assert chain_findings(session) == []
        third = session.scalars(select(AuditEntry.seq).order_by(AuditEntry.seq)).all()[2]
    with session_factory(index_url).begin() as session:
        if session.get_bind().dialect.name == "postgresql":  # past the append-only trigger
            session.execute(text("SET LOCAL session_replication_role = replica"))
        session.execute(
            update(AuditEntry).where(AuditEntry.seq == third).values(child_id="C-other")
        )
    with session_factory(index_url)() as session:
        assert [f.seq for f in chain_findings(session)] == [third]


@pytest.fixture
def api(index_url: str, inbox: Path) -> Iterator[httpx.Client]:
    for source in ("health__fhir_patient", "social_care__case_db", "education__ehe_register"):
        ingest(source, index_url=index_url)
    link_children(index_url)
    with serving(create_app(index_url)) as client:
        yield client


def test_concurrent_appends_never_fork_a_chain(index_url: str) -> None:
    """Writers racing to append (threads, one session each) never fork a chain; on PostgreSQL
    they spread over several chains (each head row locks only its own chain)."""
    import concurrent.futures

    factory = session_factory(index_url)

    def write(worker: int) -> None:
        for n in range(15):
            with factory.begin() as session:
                event = AuditEvent(Actor(f"u{worker}", "org", "ig_officer"), "lookup", "x")
                append(session, replace(event, child_id=f"C-{worker}-{n}"))

    with concurrent.futures.ThreadPoolExecutor(max_workers=6) as pool:
        list(pool.map(write, range(6)))
    with factory() as session:
        entries = session.scalars(select(AuditEntry).order_by(AuditEntry.seq)).all()
        assert len(entries) == 90
        assert len({e.prev_hash for e in entries}) == 90  # no two entries share a parent
        assert chain_findings(session) == []
        chains = {e.chain for e in entries}
        if session.get_bind().dialect.name == "postgresql":
            assert len(chains) > 1
            heads = dict(session.execute(select(AuditHead.id, AuditHead.entry_hash)).all())
            for chain in chains:  # each head names the last entry of its chain
                last = [e for e in entries if e.chain == chain][-1]
                assert heads[chain] == last.entry_hash
        else:
            assert chains == {1}


def test_tampering_on_any_chain_is_named(index_url: str) -> None:
    """A changed entry, or one moved to another chain, is named whichever chain it is on."""
    factory = session_factory(index_url)
    actor = Actor("u", "org", "ehe_officer")
    with factory.begin() as session:
        for n in range(40):
            append(session, AuditEvent(actor=actor, action="lookup", outcome="x", child_id=f"C{n}"))
    with factory() as session:
        entries = session.scalars(select(AuditEntry).order_by(AuditEntry.seq)).all()
    by_chain: dict[int, list[AuditEntry]] = {}
    for entry in entries:
        by_chain.setdefault(entry.chain, []).append(entry)
    chain, on_it = max(by_chain.items(), key=lambda item: len(item[1]))
    assert len(on_it) >= 2
    changed, moved = on_it[1], on_it[0]

    def tamper(seq: int, **values: object) -> None:
        with factory.begin() as session:
            if session.get_bind().dialect.name == "postgresql":  # past the append-only trigger
                session.execute(text("SET LOCAL session_replication_role = replica"))
            session.execute(update(AuditEntry).where(AuditEntry.seq == seq).values(**values))

    tamper(changed.seq, child_id="C-other")
    with factory() as session:
        assert [f.seq for f in chain_findings(session)][:1] == [changed.seq]
    tamper(changed.seq, child_id=changed.child_id)
    tamper(moved.seq, chain=chain % 16 + 1)
    with factory() as session:
        # moved off its chain: it no longer links where it now sits (nor does its successor)
        assert [f.seq for f in chain_findings(session)][:1] == [moved.seq]


def _known_to_social_care_nhs(index_url: str) -> str:
    with session_factory(index_url)() as session:
        nhs = session.scalar(
            select(SourceRecord.nhs_number)
            .where(
                SourceRecord.source == "social_care__case_db", SourceRecord.nhs_number.is_not(None)
            )
            .limit(1)
        )
    assert nhs
    return nhs


def test_lookup_needs_purpose_and_is_audited(api: httpx.Client, index_url: str) -> None:
    nhs = _known_to_social_care_nhs(index_url)
    refused = api.post("/api/v1/lookup", json={"nhs_number": nhs}, headers=bearer("erin.ehe"))
    assert refused.status_code == 400
    assert "purpose" in refused.json()["detail"]
    answered = api.post(
        "/api/v1/lookup",
        json={"nhs_number": nhs, "purpose": "ehe_enquiry"},
        headers=bearer("erin.ehe"),
    )
    assert answered.status_code == 200, answered.text
    body = answered.json()
    assert body["summary"]["social_care"]["known"] is True
    assert "social_care" in body["summary"]["known_to"]
    text = answered.text
    assert nhs not in text  # the answer is a flag, not the file
    with session_factory(index_url)() as session:
        entries = session.scalars(select(AuditEntry).order_by(AuditEntry.seq)).all()
        assert [e.outcome for e in entries] == ["no_purpose", body["outcome"]]
        assert entries[1].agreement_clause == "nyorks-ehe-2026#ehe-officers"
        assert entries[1].child_id == body["child_id"]
        assert "Education Act 1996 s.436A" in (entries[1].lawful_basis or "")
        assert "social_care.known" in entries[1].fields_disclosed
        assert chain_findings(session) == []


def test_lookup_refuses_anonymous_and_unknown(api: httpx.Client) -> None:
    assert (
        api.post(
            "/api/v1/lookup", json={"purpose": "ehe_enquiry", "nhs_number": "9434765919"}
        ).status_code
        == 401
    )
    missing = api.post(
        "/api/v1/lookup",
        json={"purpose": "ehe_enquiry", "nhs_number": "9434765919"},
        headers=bearer("erin.ehe"),
    )
    assert missing.status_code == 404
    bad = api.post(
        "/api/v1/lookup",
        json={"purpose": "ehe_enquiry", "nhs_number": "9434765918"},
        headers=bearer("erin.ehe"),
    )
    assert bad.status_code == 422
    assert "9434765918" not in bad.text
    purposes = api.get("/api/v1/purposes").json()
    assert {p["code"] for p in purposes} >= {"ehe_enquiry", "child_protection", "voluntary_support"}
