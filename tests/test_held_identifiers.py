"""Held records found by their identifiers (``quarantine_identifier``): the index is written
when a record is held and by migration 0023, a release takes a record's notice away, and the
PostgreSQL one-statement lookup gives the same held notices as the read model's own read."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, date, datetime

import pytest
from index_builder import CARE, EHE, HEALTH, add_child, record
from sqlalchemy import insert, select, update

from gateway import clock
from gateway.access.agreements import decide, load_agreements
from gateway.access.audit import Actor
from gateway.access.purposes import PURPOSES
from gateway.policy.async_lookup import AsyncLookups
from gateway.policy.disclosure import Disclosure, disclose
from gateway.read_model import child_with_records
from gateway.store.engine import engine_for, session_factory
from gateway.store.loader import hold_items
from gateway.store.migrate import downgrade, upgrade
from gateway.store.tables import HeldIdentifier, HeldRecord, LinkReview

OFFICER = Actor("erin.ehe", "North Yorkshire Council", "ehe_officer")
NHS = "9434765919"  # valid
BORN = "2014-05-06"


def _item(canonical: dict, stage: str = "validation") -> dict:  # type: ignore[type-arg]
    """A held item as staging hands it to the loader."""
    return {
        "item_key": canonical["provenance"]["record_id"],
        "stage": stage,
        "status": "quarantined",
        "reasons": [],
        "payload": json.dumps(canonical),
    }


def _keys(index_url: str) -> set[tuple[str, str, str]]:
    with session_factory(index_url)() as session:
        rows = session.execute(
            select(HeldRecord.item_key, HeldIdentifier.kind, HeldIdentifier.value).join(
                HeldRecord, HeldRecord.id == HeldIdentifier.held_id
            )
        )
        return {tuple(r) for r in rows}  # type: ignore[misc]


def test_holding_a_record_indexes_its_valid_identifiers(index_url: str) -> None:
    """A valid NHS number and local ids are keys; an invalid UPN is not; a record held before
    it was mapped has none."""
    identity = {"nhs_number": NHS, "upn": "not-a-upn", "local_ids": {"case": "P-77"}}
    unmapped = record(CARE, "P-raw", {"nhs_number": NHS})
    with session_factory(index_url).begin() as session:
        items = [_item(record(CARE, "P-1", identity)), _item(unmapped, stage="mapping")]
        hold_items(session, CARE, "b-1", items)
    assert _keys(index_url) == {("P-1", "nhs", NHS), ("P-1", "local:case", "P-77")}


def test_the_migration_indexes_records_held_before_it(index_url: str) -> None:
    downgrade(index_url, "0022")
    held = {
        "batch_id": "b-old",
        "source": CARE,
        "stage": "validation",
        "status": "quarantined",
        "reasons": [],
    }
    with engine_for(index_url).begin() as conn:
        conn.execute(
            insert(HeldRecord.__table__),
            [
                {
                    **held,
                    "item_key": "P-old",
                    "payload": json.dumps(record(CARE, "P-old", {"nhs_number": NHS})),
                },
                {**held, "item_key": "bad", "payload": "{not json"},
            ],
        )
    upgrade(index_url)
    assert _keys(index_url) == {("P-old", "nhs", NHS)}


def _add_child_with_held_records(session) -> None:  # type: ignore[no-untyped-def]
    """C-H on the EHE register and in health; social care's record of him held (no birth
    date) since 3 October; a sibling's record with his NHS number copied in (another birth
    date) held too; an open review pair between his register record and another health
    record."""
    who = {"given_name": "Hal", "family_name": "Hood", "birth_date": BORN, "nhs_number": NHS}
    register = record(EHE, "h1", who, education={"ehe": [{"registered_on": "2026-09-01"}]})
    add_child(session, "C-H", [register, record(HEALTH, "gp-1", who)])
    mine = record(CARE, "P-held", {"family_name": "Hood", "nhs_number": NHS})
    sibling = record(CARE, "P-sib", {"nhs_number": NHS, "birth_date": "2011-01-09"})
    hold_items(session, CARE, "b-held", [_item(mine), _item(sibling)])
    session.execute(update(HeldRecord).values(created_at=datetime(2026, 10, 3, 7, 0, tzinfo=UTC)))
    session.add(
        LinkReview(
            left_source=EHE,
            left_record_id="h1",
            right_source=HEALTH,
            right_record_id="x-health",
            probability=0.6,
            match_weights={},
            model="test",
            created_at=datetime(2026, 11, 2, 7, 0, tzinfo=UTC),
        )
    )


def _release(index_url: str, record_id: str) -> None:
    """As reprocessing a batch does for an item that now passes."""
    with session_factory(index_url).begin() as session:
        session.execute(
            update(HeldRecord).where(HeldRecord.item_key == record_id).values(status="released")
        )


def _notices(index_url: str) -> list[tuple[str, date, str]]:
    with session_factory(index_url)() as session:
        child = child_with_records(session, "C-H")
    assert child is not None
    return [(n.agency, n.since, n.why) for n in child.held]


def test_a_held_record_is_a_notice_until_it_is_released(index_url: str) -> None:
    with session_factory(index_url).begin() as session:
        _add_child_with_held_records(session)
    assert _notices(index_url) == [
        ("social_care", date(2026, 10, 3), "held"),  # once: the sibling's is not his
        ("health", date(2026, 11, 2), "review"),
    ]
    _release(index_url, "P-held")
    assert _notices(index_url) == [("health", date(2026, 11, 2), "review")]


def _both_paths(index_url: str) -> tuple[Disclosure | None, Disclosure]:
    """The child's summary from the one-statement path and from ``disclose``."""
    purpose = PURPOSES["ehe_enquiry"]
    decision = decide(load_agreements(), OFFICER, purpose.code, clock.today())
    assert decision.allowed

    async def fast() -> Disclosure | None:
        lookups = AsyncLookups(index_url, 2)
        try:
            return await lookups.lookup(OFFICER, purpose, "C-H", decision)
        finally:
            await lookups.close()

    answer = asyncio.run(fast())
    with session_factory(index_url)() as session:
        child = child_with_records(session, "C-H")
        assert child is not None
        expected = disclose(session, OFFICER, purpose, child, agreements=load_agreements())
        session.rollback()
    return answer, expected


@pytest.mark.parametrize("index_url", ["postgresql"], indirect=True)
def test_the_one_statement_lookup_gives_the_held_notices_the_read_model_gives(
    index_url: str,
) -> None:
    with session_factory(index_url).begin() as session:
        _add_child_with_held_records(session)
    answer, expected = _both_paths(index_url)
    assert answer is not None
    assert answer.model_dump(mode="json") == expected.model_dump(mode="json")
    held = answer.model_dump(mode="json")["summary"]["held_records"]
    assert [(n["agency"], n["why"]) for n in held] == [
        ("social_care", "held"),
        ("health", "review"),
    ]
    _release(index_url, "P-held")
    answer, expected = _both_paths(index_url)
    assert answer is not None
    assert answer.model_dump(mode="json") == expected.model_dump(mode="json")
    held = answer.model_dump(mode="json")["summary"]["held_records"]
    assert [n["why"] for n in held] == ["review"]
