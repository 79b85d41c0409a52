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

from dataclasses import dataclass
from datetime import date

from pydantic import BaseModel
from sqlalchemy.orm import Session

from gateway.lookup.contacts import last_contact, unseen_since
from gateway.lookup.summary import summarise
from gateway.model import CanonicalRecord, Episode
from gateway.model.summary import SECTIONS, ChildSummary
from gateway.read_model import FoundChild, educated_children

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
    """One child's row. A restricted child's row says only that the child is on the caseload
    and whom to contact (``notice``): every other field is empty."""

    child_id: str
    restricted: bool
    notice: str | None = None
    concern: int | None = None
    reasons: list[str] = []
    ehe_status: str | None = None
    ehe_registered_on: date | None = None
    left_roll_on: date | None = None
    removed_to_home_education: bool | None = None
    social_care: str | None = None  # "now", "before", "never" or "not shared"
    child_in_need: str | None = None
    child_protection_plan: str | None = None
    looked_after: str | None = None
    lead_team: str | None = None
    gp_practice_ods: str | None = None
    last_health_contact: date | None = None
    last_seen_by_any_agency: date | None = None
    last_seen_by: str | None = None  # the agency that recorded that contact
    last_seen_kind: str | None = None  # what the contact was (a visit, an attended appointment)
    unseen: bool | None = None  # None: the clause shares no agency's contact dates
    removed_while_known_to_social_care: bool | None = None
    known_to: list[str] = []


# A caseload fact derived from the summary may be shown only where the clause shares every
# summary field it is derived from (a derived field inherits the clause of its inputs).
CONTACT_FIELDS = {
    "health": "health.last_contact_date",
    "education": "education.left_roll_on",
    "social_care": "social_care.last_contact_on",
}
REMOVAL_FIELDS = ("education.left_roll_on", "education.leaving_reason")


def ehe_caseload(
    session: Session,
    *,
    today: date,
    unseen_months: int = 6,
    limit: int | None = None,
    shared: SharedFacts | None = None,
) -> list[CaseloadEntry]:
    """The worklist: most concerning first (then longest unseen), each with why; restricted
    children after the rest (their facts may not order the list).

    ``shared`` (from the agreement clause) limits the agencies and summary fields the list is
    built from: a fact withheld, or derived from one withheld, is shown as "not shared" and
    never feeds the score or the reasons."""
    facts = shared or SharedFacts()
    entries = [
        caseload_entry(child, child.records, today=today, unseen_months=unseen_months, shared=facts)
        for child in educated_children(session)
    ]
    worklist = [e for e in entries if e is not None]
    worklist.sort(
        key=lambda e: (
            e.restricted,
            -(e.concern or 0),
            e.last_seen_by_any_agency or date.min,
            e.child_id,
        )
    )
    return worklist[:limit] if limit else worklist


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


def _known_to_social_care_by(summary: ChildSummary, records: list[CanonicalRecord]) -> bool:
    """Known to social care on or before the day the child left the roll (or open now)."""
    left_on = summary.education.left_roll_on
    if summary.social_care.open_now:
        return True
    return any(
        e.start_date is None or (left_on and e.start_date <= left_on) for e in _episodes(records)
    )


def caseload_entry(
    child: FoundChild,
    records: list[CanonicalRecord],
    *,
    today: date,
    unseen_months: int,
    shared: SharedFacts | None = None,
) -> CaseloadEntry | None:
    """One child's caseload entry, or None when the child is not home educated (as far as the
    clause lets that be known).

    Built only from the agencies and fields ``shared`` allows: a fact withheld, or derived from
    a withheld one, never feeds the score or the reasons."""
    facts = shared or SharedFacts()
    visible = [r for r in records if facts.sources is None or r.agency in facts.sources]
    full = summarise(child, visible)
    removed = all(facts.allows(f) for f in REMOVAL_FIELDS) and _removed_to_home_education(
        full, visible
    )
    registered = facts.allows("education.ehe_status") and full.education.ehe_status == "registered"
    if not registered and not removed:
        return None
    summary = withhold(full, facts)
    care = summary.social_care
    social_shared = facts.allows("social_care.known")
    social = "now" if care.open_now is True else ("before" if care.known else "never")
    if not social_shared:
        social = NOT_SHARED
    contact_agencies = frozenset(a for a, f in CONTACT_FIELDS.items() if facts.allows(f))
    removed_while_known = bool(
        removed
        and social_shared
        and "social_care" in contact_agencies
        and _known_to_social_care_by(full, visible)
    )
    seen = last_contact(visible, contact_agencies)
    last_seen = seen.on if seen else None
    unseen = unseen_since(seen, months_before(today, unseen_months)) if contact_agencies else None
    concern, reasons = _concern(
        summary,
        removed_while_known=removed_while_known,
        unseen_since=(last_seen, unseen_months) if unseen else None,
        gp_shared=facts.allows("health.gp_practice_ods"),
    )
    return CaseloadEntry(
        child_id=child.child_id,
        restricted=child.restricted,
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
        lead_team=care.lead_team,
        gp_practice_ods=summary.health.gp_practice_ods,
        last_health_contact=summary.health.last_contact_date,
        last_seen_by_any_agency=last_seen,
        last_seen_by=seen.agency if seen else None,
        last_seen_kind=seen.kind if seen else None,
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
