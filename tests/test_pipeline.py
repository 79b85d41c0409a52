"""The whole path on a real index (SQLite and PostgreSQL): accounting, idempotence, linkage."""

from __future__ import annotations

import csv
from collections import defaultdict
from pathlib import Path

from sqlalchemy import func, select

from gateway.pipeline import accounting_rows, ingest, link_children
from gateway.sources import source_names
from gateway.store.engine import session_factory
from gateway.store.tables import Batch, Child, HeldRecord, Link, SourceRecord


def _ingest_all(index_url: str) -> None:
    for source in source_names():
        ingest(source, index_url=index_url)
    link_children(index_url)


def _snapshot(index_url: str) -> tuple[int, int, int, set[tuple[str, str, str]]]:
    with session_factory(index_url)() as session:
        records = session.scalar(select(func.count()).select_from(SourceRecord)) or 0
        held = session.scalar(select(func.count()).select_from(HeldRecord)) or 0
        children = session.scalar(select(func.count()).select_from(Child)) or 0
        links = {
            (link.source, link.record_id, link.child_id) for link in session.scalars(select(Link))
        }
    return records, held, children, links


def test_every_record_is_accounted_for(index_url: str, inbox: Path) -> None:
    _ingest_all(index_url)
    rows = accounting_rows(index_url)
    assert {r.source for r in rows} == set(source_names())
    sent: dict[str, int] = defaultdict(int)
    defective: dict[str, int] = defaultdict(int)
    with (inbox / "ground_truth.csv").open() as handle:
        for row in csv.DictReader(handle):
            sent[row["source"]] += int(row["items"])  # an ADT patient's messages: items each
            defective[row["source"]] += bool(row["defect"])
    assert sum(defective.values()) > 10
    for r in rows:
        assert r.received == r.loaded + r.quarantined + r.rejected, r
        assert r.received == sent[r.source], f"{r.source}: every record sent must be received"
        assert r.quarantined + r.rejected == defective[r.source], (
            f"{r.source}: exactly the defects are held"
        )
    with session_factory(index_url)() as session:
        held = session.scalar(select(func.count()).select_from(HeldRecord))
    assert held == sum(r.quarantined + r.rejected for r in rows)


def test_rerun_adds_nothing(index_url: str, inbox: Path) -> None:
    _ingest_all(index_url)
    first = _snapshot(index_url)
    _ingest_all(index_url)
    assert _snapshot(index_url) == first


def test_linkage_never_merges_two_true_children(index_url: str, inbox: Path) -> None:
    _ingest_all(index_url)
    truth: dict[tuple[str, str], str] = {}
    twins: set[str] = set()
    with (inbox / "ground_truth.csv").open() as handle:
        for row in csv.DictReader(handle):
            truth[(row["source"], row["record_id"])] = row["child"]
            if row["twin"] == "1":
                twins.add(row["child"])
    members: dict[str, set[str]] = defaultdict(set)
    for source, record_id, child_id in _snapshot(index_url)[3]:
        members[child_id].add(truth[(source, record_id)])
    false_merges = [c for c in members.values() if len(c) > 1]
    assert false_merges == []
    assert twins, "the synthetic population must contain twins"
    multi_agency = [c for c in members.values() if c]
    assert len(multi_agency) < len(truth)  # records did join up


def test_child_ids_are_stable_from_scratch(tmp_path: Path, index_url: str, inbox: Path) -> None:
    _ingest_all(index_url)
    first = {(s, r): c for s, r, c in _snapshot(index_url)[3]}
    with session_factory(index_url).begin() as session:
        session.query(Link).delete()
        session.query(Child).delete()
    link_children(index_url)  # incremental: records that lost their link are linked again
    again = {(s, r): c for s, r, c in _snapshot(index_url)[3]}
    assert again == first


def test_changed_record_becomes_a_new_version(index_url: str, inbox: Path, tmp_path: Path) -> None:
    register = next((inbox / "education" / "ehe_register").glob("*.csv"))
    ingest("education__ehe_register", path=str(register), index_url=index_url)
    lines = register.read_text(encoding="utf-8").splitlines()
    header, first = lines[0], lines[1]
    changed = first.replace(",EHE,", ",CME,", 1)
    assert changed != first
    update = tmp_path / "update.csv"
    update.write_text(header + "\n" + changed + "\n", encoding="utf-8")
    (result,) = ingest("education__ehe_register", path=str(update), index_url=index_url)
    assert (result.received, result.loaded) == (1, 1)
    record_id = first.split(",", 1)[0]
    with session_factory(index_url)() as session:
        versions = session.execute(
            select(SourceRecord.version, SourceRecord.is_current)
            .where(
                SourceRecord.source == "education__ehe_register",
                SourceRecord.record_id == record_id,
            )
            .order_by(SourceRecord.version)
        ).all()
        batches = session.scalar(select(func.count()).select_from(Batch))
    assert [tuple(v) for v in versions] == [(1, False), (2, True)]
    assert batches == 2
