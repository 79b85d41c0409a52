"""The index loader on SQLite and PostgreSQL (COPY there): versions, idempotency, one commit."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import event, select
from stdnum.gb import nhs as stdnum_nhs

from gateway.identifiers import is_valid_nhs_number
from gateway.store.engine import engine_for, session_factory
from gateway.store.loader import content_hash, load_records
from gateway.store.tables import SourceRecord

SOURCE = "social_care__case_db"


def _record(
    record_id: str, family_name: str = "Ash", nhs: str | None = "9434765919"
) -> dict[str, Any]:
    return {
        "provenance": {
            "source": SOURCE,
            "record_id": record_id,
            "batch_id": "b1",
            "received_at": "2026-11-01T09:00:00Z",
        },
        "agency": "social_care",
        "identity": {
            "given_name": "Rowan",
            "family_name": family_name,
            "birth_date": "2015-04-02",
            "nhs_number": nhs,
            "upn": "not-a-upn",
            "restricted": False,
            "local_ids": {"la_social_care": record_id},
        },
        "social_care": {"looked_after": [{"start_date": "2020-01-01", "end_date": None}]},
    }


def _load(url: str, batch: str, records: list[dict[str, Any]]) -> int:
    with session_factory(url).begin() as session:
        return load_records(session, SOURCE, "social_care", batch, records).new_versions


def _rows(url: str) -> list[SourceRecord]:
    with session_factory(url)() as session:
        return list(
            session.scalars(
                select(SourceRecord).order_by(SourceRecord.record_id, SourceRecord.version)
            )
        )


def test_load_versions_and_reload_adds_nothing(index_url: str) -> None:
    records = [_record(f"P{i:04d}") for i in range(1200)]
    assert _load(index_url, "b1", records) == 1200
    assert _load(index_url, "b2", copy.deepcopy(records)) == 0
    changed = [_record("P0001", family_name="Birch"), _record("P0002", nhs=None)]
    assert _load(index_url, "b3", changed) == 2
    rows = _rows(index_url)
    assert len(rows) == 1202
    p1 = [r for r in rows if r.record_id == "P0001"]
    assert [(r.version, r.is_current, r.batch_id) for r in p1] == [
        (1, False, "b1"),
        (2, True, "b3"),
    ]
    assert p1[1].payload == changed[0], "the payload is the record, byte for byte as JSON"
    assert p1[1].content_hash == content_hash(changed[0])
    assert p1[0].nhs_number == "9434765919" and p1[0].upn is None, "only valid ids are indexed"
    assert p1[0].received_at.replace(tzinfo=None).isoformat() == "2026-11-01T09:00:00"
    assert str(p1[0].birth_date) == "2015-04-02"


def test_a_record_changed_twice_in_one_batch_keeps_one_current(index_url: str) -> None:
    assert (
        _load(index_url, "b1", [_record("P1"), _record("P1", "Birch"), _record("P1", "Cedar")]) == 3
    )
    current = [r for r in _rows(index_url) if r.is_current]
    assert [(r.version, r.payload["identity"]["family_name"]) for r in current] == [(3, "Cedar")]


def test_a_batch_is_loaded_without_a_commit_per_row(index_url: str) -> None:
    commits: list[int] = []

    def count(_conn: object) -> None:
        commits.append(1)

    engine = engine_for(index_url)
    event.listen(engine, "commit", count)
    try:
        _load(index_url, "b1", [_record(f"P{i}") for i in range(700)])
    finally:
        event.remove(engine, "commit", count)
    assert len(commits) == 1


@settings(max_examples=150, deadline=None)
@given(st.text(alphabet="0123456789 -", min_size=0, max_size=14) | st.from_regex(r"999\d{7}"))
def test_nhs_number_check_agrees_with_stdnum(value: str) -> None:
    digits = value.replace(" ", "").replace("-", "")
    expected = bool(stdnum_nhs.is_valid(digits)) and len(set(digits)) > 1
    assert is_valid_nhs_number(value) == expected
