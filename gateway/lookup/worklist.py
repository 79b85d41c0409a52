"""The EHE caseload worklist: every home-educated child, who else knows them, and why to worry.

A child is on the caseload when an education record registers them as electively home
educated (not since deregistered) or shows them removed from a school roll to home education.
For each, the worklist says which agencies know the child (social care now or before, the
registered GP and last health contact) and flags:

- ``not_seen``: no agency has recorded contact in the last ``not_seen_months`` months;
- ``removed_while_known``: removed from roll to home education while known to social care;
- ``open_to_social_care``, ``child_protection`` and ``missing_education`` as found.

Each flag has a weight; the list is sorted most concerning first, and every entry carries the
reasons in words. Answers are minimised like a summary ("flag, not file").
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from gateway.access.audit import Actor, AuditEvent, append
from gateway.access.purposes import PURPOSES
from gateway.lookup.summary import ChildSummary, resolve_child, summarise
from gateway.model import CanonicalRecord, Episode
from gateway.store.tables import Link, SourceRecord

HOME_EDUCATION_REASONS = frozenset({"ehe", "home education", "elective home education"})
DEFAULT_NOT_SEEN_MONTHS = 6

WEIGHTS = {
    "removed_while_known": 40,
    "child_protection": 30,
    "not_seen": 25,
    "open_to_social_care": 20,
    "missing_education": 15,
    "no_health_registration": 5,
}


@dataclass(frozen=True)
class Concern:
    code: str
    reason: str

    @property
    def weight(self) -> int:
        return WEIGHTS[self.code]


@dataclass
class WorklistEntry:
    child_id: str
    route: str  # "EHE register" or "removed from roll"
    summary: ChildSummary
    last_seen_on: date | None
    last_seen_by: str | None
    concerns: list[Concern] = field(default_factory=list)

    @property
    def score(self) -> int:
        return sum(c.weight for c in self.concerns)


def months_before(day: date, months: int) -> date:
    """The same day ``months`` calendar months earlier (clamped to the month's last day)."""
    month_index = day.year * 12 + day.month - 1 - months
    year, month = divmod(month_index, 12)
    for candidate in range(day.day, 0, -1):
        try:
            return date(year, month + 1, candidate)
        except ValueError:
            continue
    raise ValueError("unreachable")  # pragma: no cover


def is_home_education(records: list[CanonicalRecord]) -> str | None:
    """Why a child is on the caseload ("EHE register", "removed from roll"), or None."""
    facts = [r.education for r in records if r.education is not None]
    if any(reg.deregistered_on is None for f in facts for reg in f.ehe):
        return "EHE register"
    for enrolment in (e for f in facts for e in f.enrolments):
        words = {(enrolment.leaving_reason or "").lower(), (enrolment.destination or "").lower()}
        if enrolment.leaving_date and words & HOME_EDUCATION_REASONS:
            return "removed from roll"
    return None


def _episodes(records: list[CanonicalRecord]) -> list[Episode]:
    every: list[Episode] = []
    for sc in (r.social_care for r in records if r.social_care is not None):
        every += sc.referrals + sc.child_in_need + sc.child_protection_plans + sc.looked_after
    return every


def last_seen(records: list[CanonicalRecord]) -> tuple[date | None, str | None]:
    """The latest date any agency recorded contact with the child, and which agency."""
    seen: list[tuple[date, str]] = []
    for record in records:
        if record.health and record.health.last_contact_date:
            seen.append((record.health.last_contact_date, "health"))
        if record.education:
            for e in record.education.enrolments:
                seen += [(d, "education") for d in (e.leaving_date, e.entry_date) if d]
        if record.social_care:
            for ep in _episodes([record]):
                seen += [(d, "social_care") for d in (ep.end_date, ep.start_date) if d]
    if not seen:
        return None, None
    latest = max(seen)
    return latest[0], latest[1]


def _known_to_social_care_on(records: list[CanonicalRecord], day: date) -> bool:
    return any(
        ep.start_date is not None
        and ep.start_date <= day
        and (ep.end_date is None or ep.end_date >= day)
        for ep in _episodes(records)
    )


def concerns_for(
    summary: ChildSummary,
    records: list[CanonicalRecord],
    seen_on: date | None,
    since: date,
) -> list[Concern]:
    """The flags raised for one child, each with its reason in words."""
    found: list[Concern] = []
    left_on = summary.education.left_roll_on
    if left_on and (_known_to_social_care_on(records, left_on) or summary.social_care.open_now):
        found.append(
            Concern(
                "removed_while_known", f"removed from roll on {left_on} while known to social care"
            )
        )
    if summary.social_care.child_protection_plan == "current":
        found.append(Concern("child_protection", "on a child protection plan now"))
    if seen_on is None or seen_on < since:
        when = f"last seen {seen_on}" if seen_on else "no recorded contact"
        found.append(Concern("not_seen", f"no agency has seen the child since {since} ({when})"))
    if summary.social_care.open_now:
        team = summary.social_care.lead_team or "team not recorded"
        found.append(Concern("open_to_social_care", f"open to social care now ({team})"))
    if summary.education.missing_education:
        found.append(Concern("missing_education", "on the children-missing-education list"))
    if not summary.health.gp_practice_ods:
        found.append(Concern("no_health_registration", "no registered GP practice known"))
    return found


def _linked_records(
    session: Session, child_ids: list[str] | None
) -> dict[str, list[CanonicalRecord]]:
    query = (
        select(Link.child_id, SourceRecord.payload)
        .join(
            SourceRecord,
            and_(Link.source == SourceRecord.source, Link.record_id == SourceRecord.record_id),
        )
        .where(Link.state == "MATCH", SourceRecord.is_current.is_(True))
    )
    if child_ids is not None:
        query = query.where(Link.child_id.in_(child_ids))
    else:
        query = query.where(SourceRecord.agency == "education")
    grouped: dict[str, list[CanonicalRecord]] = defaultdict(list)
    for child_id, payload in session.execute(query):
        grouped[child_id].append(CanonicalRecord.model_validate(payload))
    return grouped


def ehe_worklist(
    session: Session,
    *,
    not_seen_months: int = DEFAULT_NOT_SEEN_MONTHS,
    today: date | None = None,
) -> list[WorklistEntry]:
    """Every child on the EHE caseload, most concerning first, each with why."""
    since = months_before(today or date.today(), not_seen_months)
    education = _linked_records(session, None)
    on_caseload = sorted(cid for cid, recs in education.items() if is_home_education(recs))
    entries: list[WorklistEntry] = []
    for start in range(0, len(on_caseload), 500):
        batch = on_caseload[start : start + 500]
        for child_id, records in sorted(_linked_records(session, batch).items()):
            child = resolve_child(session, child_id)
            if child is None or child.child_id != child_id:
                continue
            summary = summarise(child, records)
            seen_on, seen_by = last_seen(records)
            entry = WorklistEntry(
                child_id=child_id,
                route=is_home_education(records) or "EHE register",
                summary=summary,
                last_seen_on=seen_on,
                last_seen_by=seen_by,
                concerns=concerns_for(summary, records, seen_on, since),
            )
            entries.append(entry)
    entries.sort(key=lambda e: (-e.score, e.last_seen_on or date.min, e.child_id))
    return entries


WORKLIST_ROLES = frozenset({"ehe_officer", "admin"})
WORKLIST_FIELDS = [
    "child_id",
    "restricted",
    "known_to",
    "education.ehe_status",
    "education.left_roll_on",
    "health.gp_practice_ods",
    "health.last_contact_date",
    "social_care.open_now",
    "social_care.lead_team",
    "social_care.child_protection_plan",
    "last_seen_on",
    "concerns",
]


def audited_worklist(
    session: Session,
    actor: Actor,
    *,
    not_seen_months: int = DEFAULT_NOT_SEEN_MONTHS,
    today: date | None = None,
) -> list[WorklistEntry]:
    """The worklist for ``actor``, with one audit entry per child shown (committed first)."""
    purpose = PURPOSES["ehe_enquiry"]
    if actor.role not in WORKLIST_ROLES:
        append(
            session,
            AuditEvent(
                actor=actor, action="worklist", outcome="refused_role", purpose=purpose.code
            ),
        )
        session.commit()
        raise PermissionError("only EHE officers see the EHE caseload")
    entries = ehe_worklist(session, not_seen_months=not_seen_months, today=today)
    for entry in entries:
        append(
            session,
            AuditEvent(
                actor=actor,
                action="worklist",
                outcome="disclosed",
                purpose=purpose.code,
                lawful_basis=purpose.lawful_basis,
                child_id=entry.child_id,
                fields_disclosed=WORKLIST_FIELDS,
            ),
        )
    session.commit()
    return entries
