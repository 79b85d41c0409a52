"""The EHE caseload (one function, ``ehe_caseload``): who is on it, which concerns, the order."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from web_support import populate

from gateway.lookup.caseload import (
    BANDS,
    CaseloadEntry,
    caseload_entry,
    ehe_caseload,
    months_before,
)
from gateway.model import CanonicalRecord
from gateway.read_model import FoundChild
from gateway.store.engine import session_factory

TODAY = date(2026, 11, 29)
REMOVED_WHILE_KNOWN = "removed_while_known"
NO_GP = "no_gp"
OPEN_NO_PLAN = "open_no_plan"


def _record(agency: str, *, seen: list[str] = (), **facts: Any) -> CanonicalRecord:
    """A record of ``agency`` with these facts, showing a contact on each day in ``seen``."""
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
            "contacts": [{"kind": "a contact", "on": day} for day in seen],
        }
    )


def _entry(records: list[CanonicalRecord], months: int = 6) -> CaseloadEntry | None:
    child = FoundChild("C-1", False, records)
    return caseload_entry(child, records, today=TODAY, unseen_months=months)


def _reasons(records: list[CanonicalRecord], months: int = 6) -> list[str]:
    """The entry's concerns, as codes (``settings().caseload_weights``), weightiest first."""
    entry = _entry(records, months)
    assert entry is not None, "the child should be on the caseload"
    assert len(entry.reasons) == len(entry.reason_codes)
    return entry.reason_codes


def test_months_before_clamps_to_the_end_of_a_short_month() -> None:
    assert months_before(date(2026, 8, 31), 6) == date(2026, 2, 28)
    assert months_before(date(2026, 1, 15), 1) == date(2025, 12, 15)


def test_removed_from_roll_while_known_to_social_care_and_not_seen() -> None:
    school = _record(
        "education",
        enrolments=[
            {"entry_date": "2020-09-01", "leaving_date": "2026-03-01", "leaving_reason": "EHE"}
        ],
        seen=["2026-03-01"],
    )
    social = _record(
        "social_care",
        child_in_need=[{"start_date": "2025-06-01", "end_date": "2026-04-01"}],
        seen=["2026-04-01"],
    )
    entry = _entry([school, social])
    assert entry is not None and entry.removed_to_home_education
    assert entry.removed_while_known_to_social_care and entry.unseen
    assert (entry.last_seen_by_any_agency, entry.last_seen_by) == (date(2026, 4, 1), "social_care")
    # Unseen for six months and no GP known: act now, whatever else.
    assert _reasons([school, social]) == [
        "unseen_no_gp",
        REMOVED_WHILE_KNOWN,
        "cin_before",
    ]
    assert entry.band == "act now" and entry.last_seen_kind == "a contact"
    assert entry.reasons[0].startswith("No agency has seen the child for over 6 months")
    # Known to social care only after leaving the roll: not "removed while known".
    later = _record(
        "social_care", referrals=[{"start_date": "2026-05-01", "end_date": "2026-06-01"}]
    )
    assert REMOVED_WHILE_KNOWN not in _reasons([school, later])
    # ... unless the case is open now.
    open_now = _record("social_care", referrals=[{"start_date": "2026-05-01"}])
    reasons = _reasons([school, open_now])
    assert "removed_while_open" in reasons and OPEN_NO_PLAN in reasons


def test_a_destination_of_home_education_counts_as_removed_to_it() -> None:
    school = _record(
        "education",
        enrolments=[
            {"entry_date": "2020-09-01", "leaving_date": "2026-10-01", "destination": "EHE"}
        ],
        seen=["2026-10-01"],
    )
    entry = _entry([school])
    assert entry is not None and entry.removed_to_home_education and not entry.unseen


def test_protection_plan_open_case_and_missing_education_are_concerns() -> None:
    register = _record(
        "education",
        ehe=[{"registered_on": "2026-09-01"}],
        missing_education=[{"reported_on": "2026-10-01"}],
    )
    plan = _record("social_care", child_protection_plans=[{"start_date": "2026-10-01"}])
    reasons = _reasons([register, plan])
    assert reasons[0] == "plan_now"
    assert "missing_education" in reasons
    assert OPEN_NO_PLAN not in reasons  # the plan says it already


def test_recent_health_contact_clears_not_seen_and_a_school_leaver_is_not_ehe() -> None:
    register = _record("education", ehe=[{"registered_on": "2026-09-01"}])
    health = _record("health", gp_practice_ods="B82099", seen=["2026-10-01"])
    assert _reasons([register, health]) == []
    assert _entry([register, health]).band == "routine"  # type: ignore[union-attr]
    assert _reasons([register, health], months=1) == ["unseen"]
    moved = _record(
        "education", enrolments=[{"leaving_date": "2026-03-01", "leaving_reason": "MOVED"}]
    )
    deregistered = _record(
        "education", ehe=[{"registered_on": "2025-01-01", "deregistered_on": "2025-06-01"}]
    )
    assert _entry([moved]) is None
    assert _entry([deregistered]) is None


def test_caseload_over_the_synthetic_index_most_concerning_first(
    index_url: str, inbox: Path
) -> None:
    populate(index_url)
    with session_factory(index_url)() as session:
        entries = ehe_caseload(session, today=TODAY)
        assert len(entries) > 10
        # Restricted children come after the rest (their facts may not order the list).
        assert [e.restricted for e in entries] == sorted(e.restricted for e in entries)
        # Bands in order (act now, check, routine); within a band, the highest score first.
        open_rows = [e for e in entries if not e.restricted]
        assert [BANDS.index(e.band) for e in open_rows] == sorted(
            BANDS.index(e.band) for e in open_rows
        )
        for band in BANDS:
            scores = [e.concern for e in open_rows if e.band == band]
            assert scores == sorted(scores, reverse=True)
        assert all(e.ehe_status == "registered" or e.removed_to_home_education for e in entries)
        assert entries[0].reasons and all(e.reasons for e in entries if e.concern)
        assert all(e.initials and e.birth_date for e in open_rows), "named as far as allowed"
        flagged = {r for e in entries for r in e.reason_codes}
        assert {"removed_while_open", "removed_while_known"} & flagged
        assert {"unseen", "unseen_no_gp"} & flagged
        # Every child on a plan now, or unseen for six months with no GP, is in "act now".
        for e in open_rows:
            if e.on_a_plan or (e.unseen_act_now_window and e.gp_practice_ods is None):
                assert e.band == "act now", e.reason_codes
        # A longer "not seen" window flags fewer children, never more.
        lenient = ehe_caseload(session, today=TODAY, unseen_months=24)
    assert sum(e.unseen for e in lenient) < sum(e.unseen for e in entries)
