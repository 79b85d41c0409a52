"""The EHE caseload: every child home educated or removed from roll to home education, with
who else knows them, sorted so the most concerning come first, each with the reasons why.

A plain function over the index (``ehe_caseload``); the API and the web pages render it.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta

from pydantic import BaseModel
from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from gateway.lookup.summary import SECTIONS, ChildSummary, summarise
from gateway.model import CanonicalRecord
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
DAYS_A_MONTH = 30.44


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
        _entry(
            child,
            records,
            today=today,
            unseen_months=unseen_months,
            shared=facts,
        )
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


def _removed_to_home_education(summary: ChildSummary) -> bool:
    reason = (summary.education.leaving_reason or "").strip().upper()
    return summary.education.left_roll_on is not None and reason in EHE_LEAVING_REASONS


def _last_seen(summary: ChildSummary, records: list[CanonicalRecord]) -> date | None:
    seen = [summary.health.last_contact_date, summary.education.left_roll_on]
    for record in records:
        facts = record.social_care
        if facts is None:
            continue
        episodes = facts.referrals + facts.child_in_need + facts.child_protection_plans
        seen += [d for e in episodes + facts.looked_after for d in (e.start_date, e.end_date)]
    dated = [d for d in seen if d is not None]
    return max(dated) if dated else None


def _entry(
    child: Child,
    records: list[CanonicalRecord],
    *,
    today: date,
    unseen_months: int,
    shared: SharedFacts,
) -> CaseloadEntry | None:
    visible = [r for r in records if shared.sources is None or r.agency in shared.sources]
    full = summarise(child, visible)
    removed = _removed_to_home_education(full)
    if full.education.ehe_status != "registered" and not removed:
        return None
    summary = withhold(full, shared)
    care = summary.social_care
    social = "now" if care.open_now is True else ("before" if care.known else "never")
    if not shared.allows("social_care.known"):
        social = NOT_SHARED
    first_referral = care.first_referral_on
    removed_while_known = bool(
        removed
        and care.known
        and (first_referral is None or first_referral <= (summary.education.left_roll_on or today))
    )
    last_seen = _last_seen(summary, visible)
    cutoff = today - timedelta(days=round(unseen_months * DAYS_A_MONTH))
    unseen = last_seen is None or last_seen < cutoff
    # The most restrictive label wins, whichever agency holds it and whatever is shared.
    restricted = summary.restricted or any(r.identity.restricted for r in records)
    concern, reasons = _concern(
        summary,
        removed_while_known=removed_while_known,
        unseen_since=(last_seen, unseen_months) if unseen else None,
        gp_shared=shared.allows("health.gp_practice_ods"),
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
    if summary.education.missing_education:
        found.append((2, "on the children-missing-education list"))
    if gp_shared and not summary.health.gp_practice_ods:
        found.append((1, "no registered GP known"))
    found.sort(key=lambda item: -item[0])
    return sum(weight for weight, _ in found), [reason for _, reason in found]
