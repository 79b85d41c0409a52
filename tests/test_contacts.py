"""Contacts: real events with the child, never administrative times; kept across versions;
named by kind and agency; and the generator's truth names each child's last real contact."""

from __future__ import annotations

import csv
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from connectors.health.hl7v2_adt import parse_adt
from gateway.lookup.contacts import last_contact
from gateway.mapping.apply import apply_mapping
from gateway.mapping.spec import mapping_for
from gateway.mapping.transforms import case_contacts, hl7_contacts
from gateway.model import CanonicalRecord
from gateway.store.engine import session_factory
from gateway.store.loader import load_records
from gateway.store.tables import SourceRecord
from gateway.synth import generate
from gateway.synth.contacts import history
from gateway.synth.contacts import last_contact as truth_last
from gateway.synth.population import make_population

ADT = (
    "MSH|^~\\&|PAS|RCB|EHEGW|LA815|{stamp}||ADT^{event}^ADT_A01|MSG1|P|2.4|||AL|NE|GBR\r"
    "EVN|{event}|{stamp}\r"
    "PID|1||RCB1^^^RCB^PI||Ash^Rowan||20150402|F\r"
    "{pv1}"
)


def _message(event: str, stamp: str, pv1: str = "PV1|1|O") -> dict[str, Any]:
    text = ADT.format(event=event, stamp=stamp, pv1=pv1)
    extracted = parse_adt(text.encode(), "test")
    assert extracted.record is not None, extracted.error
    return extracted.record


@pytest.mark.parametrize(
    ("event", "kind"),
    [("A04", "attended appointment"), ("A01", "hospital admission")],
)
def test_adt_attendance_and_admission_are_contacts(event: str, kind: str) -> None:
    assert hl7_contacts(_message(event, "202610050930")) == [
        {"kind": kind, "on": date(2026, 10, 5)}
    ]


def test_the_admit_time_in_pv1_is_the_admission_day() -> None:
    pv1 = "PV1|1|I" + "|" * 42 + "202609010800"
    assert hl7_contacts(_message("A01", "202609030930", pv1)) == [
        {"kind": "hospital admission", "on": date(2026, 9, 1)}
    ]


@pytest.mark.parametrize("event", ["A05", "A08", "A28", "A31"])
def test_bookings_and_updates_are_never_contacts(event: str) -> None:
    assert hl7_contacts(_message(event, "202611010800")) == []


def test_a_fhir_patient_updated_yesterday_shows_no_contact() -> None:
    patient = {
        "resourceType": "Patient",
        "id": "p1",
        "meta": {"lastUpdated": "2026-11-28T08:00:00+00:00"},
        "birthDate": "2015-04-02",
    }
    mapped = apply_mapping(
        mapping_for("health__fhir_patient"),
        patient,
        batch_id="b",
        received_at=datetime(2026, 11, 28, 9, 0),
    )
    assert mapped.record is not None
    assert mapped.record.contacts == []
    assert mapped.record.health is not None and mapped.record.health.last_contact_date is None


def test_case_visits_assessments_and_reviews_are_contacts_episodes_are_not() -> None:
    involvements = [
        {"kind": "referral", "start_date": "2026-01-02"},
        {"kind": "assessment", "start_date": "2026-01-09"},
        {"kind": "visit", "start_date": "2026-02-01"},
        {"kind": "no_access_visit", "start_date": "2026-03-01"},
        {"kind": "review", "start_date": "2026-04-01"},
    ]
    assert [(c["kind"], c["on"].isoformat()) for c in case_contacts(involvements)] == [
        ("social work visit", "2026-02-01"),
        ("assessment", "2026-01-09"),
        ("plan review", "2026-04-01"),
    ]


def _adt_record(event: str, stamp: str) -> dict[str, Any]:
    mapped = apply_mapping(
        mapping_for("health__hl7v2_adt"),
        _message(event, stamp),
        batch_id="b1",
        received_at=datetime(2026, 11, 1, 9, 0),
    )
    assert mapped.record is not None
    return mapped.record.model_dump(mode="json")


def test_an_update_after_an_attendance_keeps_the_attendance(index_url: str) -> None:
    """Each ADT message is a new version of the patient's record: the A08 that follows an A04
    must not undo the contact the A04 recorded (nor add one of its own)."""
    attended = _adt_record("A04", "202609010930")
    updated = _adt_record("A08", "202611200800")
    updated["identity"]["family_name"] = "Ash-Berry"  # the update changes something
    with session_factory(index_url).begin() as session:
        load_records(session, "health__hl7v2_adt", "health", "b1", [attended], keeps_contacts=True)
    with session_factory(index_url).begin() as session:
        load_records(session, "health__hl7v2_adt", "health", "b2", [updated], keeps_contacts=True)
    with session_factory(index_url)() as session:
        rows = session.scalars(select(SourceRecord).order_by(SourceRecord.version)).all()
    assert [r.version for r in rows] == [1, 2] and rows[1].is_current
    current = CanonicalRecord.model_validate(rows[1].payload)
    seen = last_contact([current])
    assert seen is not None
    assert (seen.on, seen.kind, seen.agency) == (
        date(2026, 9, 1),
        "attended appointment",
        "health",
    )


def test_histories_hold_missed_appointments_updates_and_visits() -> None:
    people = make_population(400, 5)
    events = [e for child in people for e in history(child, 5)]
    kinds = {e.kind for e in events}
    assert {"attended appointment", "missed appointment", "record update"} <= kinds
    assert {"social work visit", "visit with no one in", "last day on roll"} <= kinds
    assert all(not e.contact for e in events if e.kind in ("missed appointment", "record update"))


def test_truth_names_each_childs_last_real_contact(tmp_path: Path) -> None:
    result = generate(200, 5, tmp_path)
    with result.contact_truth.open(newline="", encoding="utf-8") as handle:
        rows = {row["child"]: row for row in csv.DictReader(handle)}
    assert len(rows) == result.children
    people = {c.key: c for c in make_population(200, 5)}
    updated_later = 0
    for key, row in rows.items():
        events = history(people[key], 5)
        if not row["last_contact_on"]:
            continue
        assert row["last_contact_kind"] and row["last_contact_agency"]
        last = truth_last(events)
        assert last is not None and date.fromisoformat(row["last_contact_on"]) <= last.on
        updated_later += any(not e.contact and e.on > last.on for e in events)
    assert updated_later, "some children have a record update after their last contact"
