"""Subject access export: everything held about one child, every disclosure, and nobody else."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner
from web_support import populate, served

from gateway.access.agreements import load_agreements
from gateway.access.audit import Actor
from gateway.access.purposes import PURPOSES
from gateway.api.app import create_app
from gateway.cli import app
from gateway.policy.disclosure import Refusal, disclose
from gateway.read_model import child_with_records
from gateway.reports.subject_access import UnknownChildError, audited_subject_access
from gateway.store.engine import session_factory
from gateway.store.tables import AuditEntry, Child, HeldRecord, Link, SourceRecord

OFFICER = Actor("erin.ehe", "North Yorkshire Council", "ehe_officer")
IG = Actor("iris.ig", "North Yorkshire Council", "ig_officer")


def _look_up(session: Session, who: Actor, purpose: str, child_id: str) -> None:
    """One lookup through the access policy (a refusal is audited as well)."""
    child = child_with_records(session, child_id)
    assert child is not None
    try:
        disclose(session, who, PURPOSES[purpose], child, agreements=load_agreements())
    except Refusal:
        pass
    session.commit()


def _child_with_two_agencies(index_url: str) -> tuple[str, list[tuple[str, str]]]:
    with session_factory(index_url)() as session:
        child_id = session.scalar(
            select(Link.child_id)
            .where(Link.state == "MATCH")
            .group_by(Link.child_id)
            .having(func.count() >= 2)
            .order_by(Link.child_id)
            .limit(1)
        )
        assert child_id
        keys = session.execute(
            select(Link.source, Link.record_id).where(Link.child_id == child_id)
        ).all()
    return child_id, [(k.source, k.record_id) for k in keys]


def _add_history(index_url: str, child_id: str, key: tuple[str, str]) -> str:
    """A second version of one record, a held item for it, and a child merged into this one."""
    with session_factory(index_url).begin() as session:
        current = session.scalars(
            select(SourceRecord).where(
                SourceRecord.source == key[0], SourceRecord.record_id == key[1]
            )
        ).one()
        current.is_current = False
        session.add(
            SourceRecord(
                source=current.source,
                record_id=current.record_id,
                version=current.version + 1,
                is_current=True,
                agency=current.agency,
                batch_id=current.batch_id,
                received_at=current.received_at,
                content_hash="f" * 64,
                nhs_number=current.nhs_number,
                upn=current.upn,
                birth_date=current.birth_date,
                payload=current.payload,
            )
        )
        session.add(
            HeldRecord(
                batch_id=current.batch_id,
                source=key[0],
                item_key=key[1],
                stage="validation",
                status="quarantined",
                reasons=[{"check": "test"}],
                payload="{}",
            )
        )
        session.add(Child(child_id="C-merged-away", merged_into=child_id))
    return "C-merged-away"


def test_export_holds_every_version_link_held_item_and_disclosure(
    index_url: str, inbox: Path
) -> None:
    populate(index_url)
    child_id, keys = _child_with_two_agencies(index_url)
    merged = _add_history(index_url, child_id, keys[0])
    with session_factory(index_url)() as session:
        _look_up(session, OFFICER, "ehe_enquiry", child_id)
        _look_up(session, OFFICER, "child_protection", child_id)  # refused: also a disclosure
        other = session.scalar(select(Child.child_id).where(Child.child_id != child_id).limit(1))
        assert other
        _look_up(session, OFFICER, "ehe_enquiry", other)
        export = audited_subject_access(session, IG, merged)  # an old id finds the survivor
        with pytest.raises(UnknownChildError):
            audited_subject_access(session, IG, "C-nobody")
        with pytest.raises(PermissionError):
            audited_subject_access(session, OFFICER, child_id)
        outcomes = session.scalars(
            select(AuditEntry.outcome).where(AuditEntry.action == "subject_access")
        ).all()
    assert export["child_id"] == child_id and export["requested_child_id"] == merged
    assert sorted(c["child_id"] for c in export["children"]) == sorted([child_id, merged])
    assert sorted((x["source"], x["record_id"]) for x in export["links"]) == sorted(keys)
    # How each record came to the child is part of what the index holds about it.
    moved = {(e["source"], e["record_id"]) for e in export["link_history"]}
    assert moved and moved <= set(keys)
    assert "merged_into_record_id" in export["source_records"][0]  # every column, new ones too
    versions = [
        r["version"] for r in export["source_records"] if (r["source"], r["record_id"]) == keys[0]
    ]
    assert versions == [1, 2]
    assert {(r["source"], r["record_id"]) for r in export["source_records"]} == set(keys)
    assert [(h["source"], h["item_key"]) for h in export["quarantine"]][:1] == [keys[0]]
    assert [d["purpose"] for d in export["disclosures"]] == ["ehe_enquiry", "child_protection"]
    assert all(d["child_id"] == child_id for d in export["disclosures"])
    assert outcomes == ["exported", "not_found", "refused_role"]
    json.dumps(export)  # plain JSON all the way down


@pytest.mark.parametrize("index_url", ["sqlite"], indirect=True)
def test_cli_and_ig_page_export_as_json(
    index_url: str, inbox: Path, tmp_path: Path, data_dir: Path
) -> None:
    populate(index_url)
    child_id, keys = _child_with_two_agencies(index_url)
    out = tmp_path / "sar.json"
    result = CliRunner().invoke(
        app, ["sar", "--child-id", child_id, "--out", str(out), "--by", "ig@la.example"]
    )
    assert result.exit_code == 0, result.output
    assert f"{len(keys)} links" in result.output
    assert json.loads(out.read_text())["child_id"] == child_id
    missing = CliRunner().invoke(
        app, ["sar", "--child-id", "C-x", "--out", str(out), "--by", "ig@la.example"]
    )
    assert missing.exit_code != 0

    with served(create_app(index_url)) as base, httpx.Client(base_url=base) as client:
        client.post("/sign-in", data={"user": "erin.ehe"})
        assert client.get("/subject-access").status_code == 403
        client.post("/sign-in", data={"user": "iris.ig"})
        form = client.get("/subject-access")
        token = re.search(r'name="csrf" value="([^"]+)"', form.text)
        assert token
        empty = client.post("/subject-access", data={"csrf": token.group(1)})
        assert empty.status_code == 400 and "Enter an NHS number, a UPN or a child id" in (
            empty.text
        )
        unknown = client.post(
            "/subject-access", data={"identifier": "C-nobody", "csrf": token.group(1)}
        )
        assert unknown.status_code == 404 and "No child in the index has that" in unknown.text
        asked = {"identifier": child_id, "csrf": token.group(1)}
        response = client.post("/subject-access", data={**asked, "format": "json"})
        readable = client.post("/subject-access", data={**asked, "format": "html"})
    assert response.status_code == 200
    assert response.headers["content-disposition"].startswith("attachment;")
    assert response.json()["child_id"] == child_id
    assert child_id not in str(response.url)
    # The readable document: the notice first, then every section with a plain heading.
    assert readable.headers["content-type"].startswith("text/html")
    assert f"Subject access export: child {child_id}" in readable.text
    assert "Review and redact" in readable.text
    assert "Every version of every linked record" in readable.text
    assert readable.text.count("<h2>") == 7


def test_the_readable_export_prints_to_a_pdf(tmp_path: Path) -> None:
    from gateway.reports.pdf import chromium_available
    from gateway.reports.subject_access_render import render_pdf

    if not chromium_available():
        pytest.skip("chromium is not installed")
    export = {
        "notice": "Personal data.",
        "generated_at": "2026-11-29T10:05:00+00:00",
        "requested_child_id": "C-1",
        "child_id": "C-1",
        "children": [{"child_id": "C-1", "merged_into": None}],
        "source_records": [{"source": "health__fhir_patient", "content": {"a": [1, 2]}}],
    }
    pdf = render_pdf(export)
    assert pdf.startswith(b"%PDF") and len(pdf) > 1000
