"""The EHE caseload: every child home educated or removed from roll to home education, with
who else knows them, sorted so the most concerning come first, each with the reasons why.

A plain function over the index (``ehe_caseload``); the API and the web pages render it.
The concerns, weightiest first: removed from roll while known to social care (an episode that
began on or before the leaving day, or a case open now); a child protection plan, looked
after or child in need (now or before); no agency has seen the child for ``unseen_months``
calendar months; open to social care now without a plan (a referral or assessment); on the
children-missing-education list; no registered GP known.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date

from pydantic import BaseModel
from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from gateway.lookup.summary import SECTIONS, ChildSummary, summarise
from gateway.model import CanonicalRecord, Episode
from gateway.store.tables import Child, Link, SourceRecord

NOT_SHARED = "not shared"


@dataclass(frozen=True)
class SharedFacts:
    """What a clause shares: agencies and dotted summary fields (None: everything)."""

    sources: frozenset[str] | None = None
    fields: frozenset[str] | None = None

    def allows(self, name: str) -> bool:
        return self.fields is None or name in self.fields


def withhold(summary: ChildSummary, shared: SharedFacts) -> ChildSummary:
    """The summary with every field the clause does not share blanked ("not shared" for states)."""
    if shared.fields is None:
        return summary
    changed = summary.model_copy(deep=True)
    for part in SECTIONS:
        section = getattr(changed, part)
        for name, info in type(section).model_fields.items():
            if shared.allows(f"{part}.{name}"):
                continue
            blank = NOT_SHARED if isinstance(info.default, str) else info.default
            setattr(section, name, blank)
    return changed


EHE_LEAVING_REASONS = ("EHE", "ELECTIVE HOME EDUCATION", "HOME EDUCATION")


class CaseloadEntry(BaseModel):
    child_id: str
    restricted: bool
    concern: int
    reasons: list[str]
    ehe_status: str
    ehe_registered_on: date | None
    left_roll_on: date | None
    removed_to_home_education: bool
    social_care: str  # "now", "before" or "never"
    child_in_need: str
    child_protection_plan: str
    looked_after: str
    lead_team: str | None
    gp_practice_ods: str | None
    last_health_contact: date | None
    last_seen_by_any_agency: date | None
    last_seen_by: str | None = None  # the agency that recorded that contact
    unseen: bool
    removed_while_known_to_social_care: bool
    known_to: list[str]


def ehe_caseload(
    session: Session,
    *,
    today: date,
    unseen_months: int = 6,
    limit: int | None = None,
    shared: SharedFacts | None = None,
) -> list[CaseloadEntry]:
    """The worklist: most concerning first (then longest unseen), each with why.

    ``shared`` (from the agreement clause) limits the agencies and summary fields the list is
    built from: a fact the clause does not share is shown as "not shared" and never feeds the
    score or the reasons."""
    facts = shared or SharedFacts()
    entries = [
        caseload_entry(child, records, today=today, unseen_months=unseen_months, shared=facts)
        for child, records in _children_with_records(session)
    ]
    worklist = [e for e in entries if e is not None]
    worklist.sort(key=lambda e: (-e.concern, e.last_seen_by_any_agency or date.min, e.child_id))
    return worklist[:limit] if limit else worklist


def _children_with_records(session: Session) -> list[tuple[Child, list[CanonicalRecord]]]:
    """Every unmerged child an education source knows, with its current linked records."""
    educated = (
        select(Link.child_id)
        .join(
            SourceRecord,
            and_(Link.source == SourceRecord.source, Link.record_id == SourceRecord.record_id),
        )
        .where(SourceRecord.agency == "education", SourceRecord.is_current.is_(True))
        .where(Link.state == "MATCH")
    )
    rows = session.execute(
        select(Child, SourceRecord.payload)
        .join(Link, Link.child_id == Child.child_id)
        .join(
            SourceRecord,
            and_(Link.source == SourceRecord.source, Link.record_id == SourceRecord.record_id),
        )
        .where(Child.child_id.in_(educated), Child.merged_into.is_(None))
        .where(Link.state == "MATCH", SourceRecord.is_current.is_(True))
    )
    grouped: dict[str, tuple[Child, list[CanonicalRecord]]] = {}
    records: dict[str, list[CanonicalRecord]] = defaultdict(list)
    for child, payload in rows:
        grouped.setdefault(child.child_id, (child, records[child.child_id]))
        records[child.child_id].append(CanonicalRecord.model_validate(payload))
    return list(grouped.values())


def months_before(day: date, months: int) -> date:
    """The same day ``months`` calendar months earlier (clamped to the month's last day)."""
    year, month = divmod(day.year * 12 + day.month - 1 - months, 12)
    for candidate in range(day.day, 0, -1):
        try:
            return date(year, month + 1, candidate)
        except ValueError:
            continue
    raise ValueError("unreachable")  # pragma: no cover


def _removed_to_home_education(summary: ChildSummary, records: list[CanonicalRecord]) -> bool:
    left_on = summary.education.left_roll_on
    if left_on is None:
        return False
    reason = (summary.education.leaving_reason or "").strip().upper()
    destinations = {
        (e.destination or "").strip().upper()
        for r in records
        if r.education is not None
        for e in r.education.enrolments
        if e.leaving_date == left_on
    }
    return reason in EHE_LEAVING_REASONS or bool(destinations & set(EHE_LEAVING_REASONS))


def _episodes(records: list[CanonicalRecord]) -> list[Episode]:
    every: list[Episode] = []
    for facts in (r.social_care for r in records if r.social_care is not None):
        every += facts.referrals + facts.child_in_need + facts.child_protection_plans
        every += facts.looked_after
    return every


def _last_seen(records: list[CanonicalRecord]) -> tuple[date | None, str | None]:
    """The latest contact any agency recorded with the child, and which agency."""
    seen: list[tuple[date, str]] = []
    for record in records:
        if record.health is not None and record.health.last_contact_date:
            seen.append((record.health.last_contact_date, "health"))
        if record.education is not None:
            for e in record.education.enrolments:
                seen += [(d, "education") for d in (e.entry_date, e.leaving_date) if d]
        seen += [
            (d, "social_care") for e in _episodes([record]) for d in (e.start_date, e.end_date) if d
        ]
    if not seen:
        return None, None
    return max(seen)


def _known_to_social_care_by(summary: ChildSummary, records: list[CanonicalRecord]) -> bool:
    """Known to social care on or before the day the child left the roll (or open now)."""
    left_on = summary.education.left_roll_on
    if summary.social_care.open_now:
        return True
    return any(
        e.start_date is None or (left_on and e.start_date <= left_on) for e in _episodes(records)
    )


def caseload_entry(
    child: Child,
    records: list[CanonicalRecord],
    *,
    today: date,
    unseen_months: int,
    shared: SharedFacts | None = None,
) -> CaseloadEntry | None:
    """One child's caseload entry, or None when the child is not home educated.

    Built only from the agencies and fields ``shared`` allows: a fact withheld never feeds the
    score or the reasons."""
    facts = shared or SharedFacts()
    visible = [r for r in records if facts.sources is None or r.agency in facts.sources]
    full = summarise(child, visible)
    removed = _removed_to_home_education(full, visible)
    if full.education.ehe_status != "registered" and not removed:
        return None
    summary = withhold(full, facts)
    care = summary.social_care
    social_shared = facts.allows("social_care.known")
    social = "now" if care.open_now is True else ("before" if care.known else "never")
    if not social_shared:
        social = NOT_SHARED
    removed_while_known = bool(
        removed and social_shared and _known_to_social_care_by(full, visible)
    )
    last_seen, seen_by = _last_seen(visible)
    unseen = last_seen is None or last_seen < months_before(today, unseen_months)
    # The most restrictive label wins, whichever agency holds it and whatever is shared.
    restricted = summary.restricted or any(r.identity.restricted for r in records)
    concern, reasons = _concern(
        summary,
        removed_while_known=removed_while_known,
        unseen_since=(last_seen, unseen_months) if unseen else None,
        gp_shared=facts.allows("health.gp_practice_ods"),
    )
    return CaseloadEntry(
        child_id=child.child_id,
        restricted=restricted,
        concern=concern,
        reasons=reasons,
        ehe_status=summary.education.ehe_status,
        ehe_registered_on=summary.education.ehe_registered_on,
        left_roll_on=summary.education.left_roll_on,
        removed_to_home_education=removed,
        social_care=social,
        child_in_need=care.child_in_need,
        child_protection_plan=care.child_protection_plan,
        looked_after=care.looked_after,
        lead_team=None if restricted else care.lead_team,
        gp_practice_ods=None if restricted else summary.health.gp_practice_ods,
        last_health_contact=summary.health.last_contact_date,
        last_seen_by_any_agency=last_seen,
        last_seen_by=seen_by,
        unseen=unseen,
        removed_while_known_to_social_care=removed_while_known,
        known_to=summary.known_to,
    )


_EPISODE_WEIGHTS = {
    "child_protection_plan": (4, 2, "child protection plan"),
    "looked_after": (3, 1, "looked after"),
    "child_in_need": (3, 1, "child in need"),
}


def _concern(
    summary: ChildSummary,
    *,
    removed_while_known: bool,
    unseen_since: tuple[date | None, int] | None,
    gp_shared: bool,
) -> tuple[int, list[str]]:
    """A score and the reasons for it, most weighty first."""
    found: list[tuple[int, str]] = []
    if removed_while_known:
        found.append((4, "removed from roll while known to social care"))
    if unseen_since is not None:
        last_seen, unseen_months = unseen_since
        since = f"since {last_seen}" if last_seen else "ever (no contact on record)"
        found.append((3, f"no agency has seen the child {since}: over {unseen_months} months"))
    for name, (now, before, label) in _EPISODE_WEIGHTS.items():
        state = getattr(summary.social_care, name)
        if state == "current":
            found.append((now, f"{label} now"))
        elif state == "past":
            found.append((before, f"{label} before"))
    care = summary.social_care
    if care.open_now and "current" not in (
        care.child_protection_plan,
        care.looked_after,
        care.child_in_need,
    ):
        found.append((2, "open to social care now (a referral or assessment, no plan)"))
    if summary.education.missing_education:
        found.append((2, "on the children-missing-education list"))
    if gp_shared and not summary.health.gp_practice_ods:
        found.append((1, "no registered GP known"))
    found.sort(key=lambda item: -item[0])
    return sum(weight for weight, _ in found), [reason for _, reason in found]
