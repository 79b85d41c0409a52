"""The EHE caseload worklist: who is on it, which concerns are raised, and the order."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from web_support import populate

from gateway.access.audit import Actor
from gateway.lookup.summary import summarise
from gateway.lookup.worklist import (
    audited_worklist,
    concerns_for,
    ehe_worklist,
    is_home_education,
    last_seen,
    months_before,
)
from gateway.model import CanonicalRecord
from gateway.store.engine import session_factory
from gateway.store.tables import AuditEntry, Child

TODAY = date(2026, 11, 29)


def _record(agency: str, **facts: Any) -> CanonicalRecord:
    return CanonicalRecord.model_validate(
        {
            "provenance": {
                "source": f"{agency}__test",
                "record_id": "R1",
                "batch_id": "B1",
                "received_at": datetime(2026, 11, 1, tzinfo=UTC),
            },
            "agency": agency,
            "identity": {},
            agency: facts,
        }
    )


def _codes(records: list[CanonicalRecord], months: int = 6) -> list[str]:
    summary = summarise(Child(child_id="C-1", restricted=False), records)
    seen_on, _ = last_seen(records)
    return [c.code for c in concerns_for(summary, records, seen_on, months_before(TODAY, months))]


def test_months_before_clamps_to_the_end_of_a_short_month() -> None:
    assert months_before(date(2026, 8, 31), 6) == date(2026, 2, 28)
    assert months_before(date(2026, 1, 15), 1) == date(2025, 12, 15)


def test_removed_from_roll_while_known_to_social_care_and_not_seen() -> None:
    school = _record(
        "education",
        enrolments=[
            {"entry_date": "2020-09-01", "leaving_date": "2026-03-01", "leaving_reason": "EHE"}
        ],
    )
    social = _record(
        "social_care",
        child_in_need=[{"start_date": "2025-06-01", "end_date": "2026-04-01"}],
    )
    assert is_home_education([school]) == "removed from roll"
    assert _codes([school, social]) == [
        "removed_while_known",
        "not_seen",
        "no_health_registration",
    ]
    # Known to social care only after leaving the roll: not "removed while known".
    later = _record(
        "social_care", referrals=[{"start_date": "2026-05-01", "end_date": "2026-06-01"}]
    )
    assert "removed_while_known" not in _codes([school, later])


def test_recent_health_contact_clears_not_seen_and_a_school_leaver_is_not_ehe() -> None:
    register = _record("education", ehe=[{"registered_on": "2026-09-01"}])
    health = _record("health", gp_practice_ods="B82099", last_contact_date="2026-10-01")
    assert _codes([register, health]) == []
    assert "not_seen" in _codes([register, health], months=1)
    moved = _record(
        "education", enrolments=[{"leaving_date": "2026-03-01", "leaving_reason": "MOVED"}]
    )
    deregistered = _record(
        "education", ehe=[{"registered_on": "2025-01-01", "deregistered_on": "2025-06-01"}]
    )
    assert is_home_education([moved]) is None
    assert is_home_education([deregistered]) is None


def test_worklist_over_the_index_is_the_caseload_most_concerning_first(
    index_url: str, inbox: Path
) -> None:
    populate(index_url)
    officer = Actor("ehe.officer@la815.example", "LA 815", "ehe_officer")
    with session_factory(index_url)() as session:
        entries = audited_worklist(session, officer, today=TODAY)
        assert len(entries) > 10
        scores = [e.score for e in entries]
        assert scores == sorted(scores, reverse=True)
        assert all(e.route in ("EHE register", "removed from roll") for e in entries)
        assert entries[0].concerns and all(c.reason for e in entries for c in e.concerns)
        flagged = {c.code for e in entries for c in e.concerns}
        assert {"removed_while_known", "not_seen", "open_to_social_care"} <= flagged
        # A longer "not seen" window flags fewer children, never more.
        lenient = ehe_worklist(session, not_seen_months=24, today=TODAY)

        def not_seen(items: list[Any]) -> int:
            return sum(1 for e in items if any(c.code == "not_seen" for c in e.concerns))

        assert not_seen(lenient) < not_seen(entries)
        audited = session.scalars(select(AuditEntry).where(AuditEntry.action == "worklist")).all()
    assert sorted(e.child_id for e in audited) == sorted(e.child_id for e in entries)
    assert {e.purpose for e in audited} == {"ehe_enquiry"}
