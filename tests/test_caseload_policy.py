"""The caseload at the policy point: filters and pages, one audit entry per view naming the
children shown (one request in the sharing report, found by subject access for each child),
and records held back about a child shown as notices, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

from index_builder import CARE, EHE, add_child, add_population, record

from gateway.access.agreements import load_agreements
from gateway.access.audit import Actor
from gateway.access.purposes import PURPOSES
from gateway.lookup.caseload import ehe_caseload
from gateway.policy.listings import CaseloadFilter, audited_caseload_page
from gateway.read_model import child_with_records, held_notices
from gateway.reports.sharing import build_sharing_report
from gateway.reports.subject_access import subject_access_export
from gateway.store.engine import session_factory
from gateway.store.tables import AuditEntry, HeldRecord, LinkReview

OFFICER = Actor("erin.ehe", "North Yorkshire Council", "ehe_officer")
TODAY = date(2026, 11, 29)
NHS = "9434765919"


def _held(canonical: dict, since: datetime) -> HeldRecord:  # type: ignore[type-arg]
    """A canonical record quarantined by validation on ``since``."""
    return HeldRecord(
        batch_id="b-held",
        source=CARE,
        item_key=canonical["provenance"]["record_id"],
        stage="validation",
        status="quarantined",
        reasons=[],
        payload=json.dumps(canonical),
        created_at=since,
    )


def _add_held_child(session) -> None:  # type: ignore[no-untyped-def]
    """C-H on the EHE register; social care's record of him held (no birth date) since
    3 October 2026; and an open review pair between his register record and a health record."""
    who = {"given_name": "Hal", "family_name": "Hood", "birth_date": "2014-05-06"}
    register = record(
        EHE, "h1", {**who, "nhs_number": NHS}, education={"ehe": [{"registered_on": "2026-09-01"}]}
    )
    add_child(session, "C-H", [register])
    held = record(CARE, "P-held", {"family_name": "Hood", "nhs_number": NHS})
    session.add(_held(held, datetime(2026, 10, 3, 7, 0, tzinfo=UTC)))
    session.add(
        LinkReview(
            left_source=EHE,
            left_record_id="h1",
            right_source="health__fhir_patient",
            right_record_id="x-health",
            probability=0.6,
            match_weights={},
            model="test",
            created_at=datetime(2026, 11, 2, 7, 0, tzinfo=UTC),
        )
    )


def test_held_records_and_review_pairs_are_notices_without_content(index_url: str) -> None:
    with session_factory(index_url).begin() as session:
        add_population(session)
        _add_held_child(session)
    with session_factory(index_url)() as session:
        child = child_with_records(session, "C-H")
        others = held_notices(session, {"C-B": child_with_records(session, "C-B").records})  # type: ignore[union-attr]
    assert child is not None
    assert [(n.agency, n.since, n.why) for n in child.held] == [
        ("social_care", date(2026, 10, 3), "held"),
        ("health", date(2026, 11, 2), "review"),
    ]
    assert others == {}, "another child's held record is not this child's"


def test_a_held_record_with_another_birth_date_is_not_this_childs(index_url: str) -> None:
    """A sibling's NHS number copied into a held record: the birth date tells them apart."""
    with session_factory(index_url).begin() as session:
        _add_held_child(session)
        sibling = record(CARE, "P-sib", {"nhs_number": NHS, "birth_date": "2011-01-09"})
        session.add(_held(sibling, datetime(2026, 10, 4, 7, 0, tzinfo=UTC)))
    with session_factory(index_url)() as session:
        child = child_with_records(session, "C-H")
    assert child is not None
    assert [n.why for n in child.held].count("held") == 1


def test_one_view_is_one_audited_request_naming_the_children_on_the_page(
    index_url: str,
) -> None:
    with session_factory(index_url).begin() as session:
        add_population(session)
        _add_held_child(session)
    agreements = load_agreements()
    purpose = PURPOSES["ehe_enquiry"]
    with session_factory(index_url).begin() as session:
        first = audited_caseload_page(
            session, OFFICER, purpose, agreements=agreements, page_size=2, today=TODAY
        )
        second = audited_caseload_page(
            session, OFFICER, purpose, agreements=agreements, page=2, page_size=2, today=TODAY
        )
        held = audited_caseload_page(
            session,
            OFFICER,
            purpose,
            agreements=agreements,
            filters=CaseloadFilter(held=True),
            today=TODAY,
        )
        acting = audited_caseload_page(
            session,
            OFFICER,
            purpose,
            agreements=agreements,
            filters=CaseloadFilter(band="act now"),
            today=TODAY,
        )
    assert (first.matching, first.pages, len(first.entries)) == (4, 2, 2)
    assert not {e.child_id for e in first.entries} & {e.child_id for e in second.entries}
    assert [e.child_id for e in held.entries] == ["C-H"]
    reasons = held.entries[0].reasons
    assert (
        "A social care record about this child is held for a data-quality check since "
        "3 October 2026"
    ) in reasons
    assert "Hood" not in json.dumps([e.model_dump(mode="json") for e in held.entries])
    # C-A: on a plan, removed while open; C-H: never seen by anyone, no GP known.
    assert {e.child_id for e in acting.entries} == {"C-A", "C-H"}
    assert first.bands == {"act now": 2, "check": 0, "routine": 2}
    with session_factory(index_url)() as session:
        views = [
            e for e in session.query(AuditEntry).order_by(AuditEntry.seq) if e.action == "caseload"
        ]
        report = build_sharing_report(session, views[0].at.date(), views[-1].at.date())
        export = subject_access_export(session, "C-H")
    assert len(views) == 4, "one entry a view"
    assert [f for f in views[0].fields_disclosed if f.startswith("child:")] == [
        f"child:{e.child_id}" for e in first.entries
    ]
    assert report.requests == 4, "each view is one request in the sharing report"
    assert any(d["action"] == "caseload" for d in export["disclosures"])


def _possible_match(session, identity: dict) -> None:  # type: ignore[no-untyped-def,type-arg]
    """The health record of C-H's open review pair (``_add_held_child``), linked to a child of
    its own, showing an attended appointment three weeks ago."""
    health = record(
        "health__fhir_patient",
        "x-health",
        identity,
        health={"gp_practice_ods": "B82005"},
        contacts=[{"kind": "attended appointment", "on": "2026-11-08"}],
    )
    add_child(session, "C-X", [health])


def test_a_child_seen_only_in_a_possible_match_is_not_called_unseen(index_url: str) -> None:
    """Unseen in its own records, seen in a record waiting for review that looks like the
    child: the caseload says so, at the weight of unseen, and does not count the child unseen."""
    with session_factory(index_url).begin() as session:
        _add_held_child(session)
        _possible_match(
            session,
            {
                "given_name": "Hal",
                "family_name": "Hood",
                "birth_date": "2014-05-06",
                "nhs_number": "9991902287",
            },
        )
    with session_factory(index_url)() as session:
        (entry,) = [e for e in ehe_caseload(session, today=TODAY) if e.child_id == "C-H"]
        (unseen,) = [
            e for e in ehe_caseload(session, today=date(2027, 9, 1)) if e.child_id == "C-H"
        ]
    assert entry.possibly_seen and not entry.unseen
    assert "possibly_seen" in entry.reason_codes and "unseen" not in entry.reason_codes
    said = entry.reasons[entry.reason_codes.index("possibly_seen")]
    assert "health record that may be this child's" in said and "8 November" not in said
    assert entry.last_seen_by_any_agency is None, "its own records still show no contact"
    assert unseen.unseen and not unseen.possibly_seen, (
        "a contact older than the window clears nothing"
    )


def test_a_siblings_record_waiting_for_review_does_not_clear_unseen(index_url: str) -> None:
    """The pair shares an NHS number (a sibling's copied in) but another forename and birth
    date: that sibling's appointment says nothing of this child."""
    with session_factory(index_url).begin() as session:
        _add_held_child(session)
        _possible_match(
            session,
            {
                "given_name": "Rosie",
                "family_name": "Hood",
                "birth_date": "2011-06-30",
                "nhs_number": NHS,
            },
        )
    with session_factory(index_url)() as session:
        (entry,) = [e for e in ehe_caseload(session, today=TODAY) if e.child_id == "C-H"]
    assert entry.unseen and not entry.possibly_seen
    assert "unseen" in entry.reason_codes or "unseen_no_gp" in entry.reason_codes
