"""A child's minimised summary: "flag, not file".

Known to social care (and whether now), lead team, dates; registered GP practice and date of
last health contact; school roll and EHE status. Never names, addresses, case notes or
clinical detail. Built from the current versions of the child's linked source records.
"""

from __future__ import annotations

from datetime import date
from typing import Protocol

from gateway.lookup.contacts import last_contact
from gateway.model import CanonicalRecord, Episode
from gateway.model.summary import (
    ChildSummary,
    EducationSummary,
    HealthSummary,
    HeldRecordNotice,
    SocialCareSummary,
)


class ChildRef(Protocol):
    """What a summary needs of a child: its id and its own restricted label."""

    @property
    def child_id(self) -> str: ...

    @property
    def restricted(self) -> bool: ...


def summarise(
    child: ChildRef, records: list[CanonicalRecord], held: list[HeldRecordNotice] | None = None
) -> ChildSummary:
    """The summary of these records (those of the agencies a clause covers), with the notices
    of held records (``held``: already limited to the same agencies). The records are taken
    in the order of their keys, so a tie (two practices, neither with a contact) is broken the
    same way whatever order they were read in (a replay reads them otherwise than a lookup)."""
    records = sorted(records, key=lambda r: (r.provenance.source, r.provenance.record_id))
    agencies = sorted({r.agency for r in records})
    return ChildSummary(
        child_id=child.child_id,
        restricted=child.restricted,
        known_to=agencies,
        held_records=held or [],
        education=_education(records),
        health=_health(records),
        social_care=_social_care(records),
    )


def _education(records: list[CanonicalRecord]) -> EducationSummary:
    facts = [r.education for r in records if r.education is not None]
    summary = EducationSummary(known=bool(facts))
    enrolments = sorted(
        (e for f in facts for e in f.enrolments), key=lambda e: e.entry_date or date.min
    )
    if enrolments:
        last = enrolments[-1]
        summary.on_roll = last.leaving_date is None
        summary.last_school = last.school_name or last.school_id
        summary.left_roll_on = last.leaving_date
        summary.leaving_reason = last.leaving_reason
    registrations = sorted(
        (e for f in facts for e in f.ehe), key=lambda e: e.registered_on or date.min
    )
    if registrations:
        latest = registrations[-1]
        summary.ehe_status = "deregistered" if latest.deregistered_on else "registered"
        summary.ehe_registered_on = latest.registered_on
    summary.missing_education = any(
        m.resolved_on is None for f in facts for m in f.missing_education
    )
    return summary


def _health(records: list[CanonicalRecord]) -> HealthSummary:
    facts = [r for r in records if r.health is not None]
    summary = HealthSummary(known=bool(facts))
    seen = last_contact(facts, ["health"])
    if seen is not None:
        summary.last_contact_date, summary.last_contact_kind = seen.on, seen.kind
    # The practice of the record with the latest contact wins (else of the last record).
    by_contact = sorted(facts, key=lambda r: max((c.on for c in r.contacts), default=date.min))
    practices = [r.health.gp_practice_ods for r in by_contact if r.health]
    practices = [p for p in practices if p]
    summary.gp_practice_ods = practices[-1] if practices else None
    return summary


def _state(episodes: list[Episode]) -> str:
    if any(e.is_open for e in episodes):
        return "current"
    return "past" if episodes else "never"


def _social_care(records: list[CanonicalRecord]) -> SocialCareSummary:
    facts = [r.social_care for r in records if r.social_care is not None]
    summary = SocialCareSummary(known=bool(facts))
    referrals = sorted(e.start_date for f in facts for e in f.referrals if e.start_date)
    summary.first_referral_on = referrals[0] if referrals else None
    summary.latest_referral_on = referrals[-1] if referrals else None
    every: dict[str, list[Episode]] = {"referrals": [], "cin": [], "cpp": [], "lac": []}
    for f in facts:
        every["referrals"] += f.referrals
        every["cin"] += f.child_in_need
        every["cpp"] += f.child_protection_plans
        every["lac"] += f.looked_after
    summary.child_in_need = _state(every["cin"])
    summary.child_protection_plan = _state(every["cpp"])
    summary.looked_after = _state(every["lac"])
    summary.open_now = any(_state(v) == "current" for v in every.values())
    teams = [f.lead_team for f in facts if f.lead_team]
    summary.lead_team = teams[0] if teams else None
    seen = last_contact(records, ["social_care"])
    if seen is not None:
        summary.last_contact_on, summary.last_contact_kind = seen.on, seen.kind
    return summary
