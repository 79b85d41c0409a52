"""The events team inboxes are alerted to, found in the read model with the caseload's rules.

An event is (kind, child, key, day): the key tells two events of one kind about one child
apart, so each is alerted once, ever (``record.record_events``).

- ``removed_while_known``: removed from a school roll to home education while known to social
  care or on a plan (the caseload's rule, ``removed_while_known_to_social_care``); key: the day
  the child left the roll.
- ``known_to_social_care``: social care's involvement (a referral; an episode of any kind
  where the records carry no referral) began after the child became home educated (left the
  roll to home education, or was registered); key: the day it began.
- ``unseen``: no real contact from any agency for ``notify_unseen_months`` (the caseload's
  unseen rule, ``caseload_entries``, a possible match that looks like the child included);
  key: the last contact's day (``never``), so a
  child seen again and then unseen again is a new event.
- ``held_record``: a record about the child held back (``read_model.held_notices``: held for
  a data-quality check, or a possible match waiting) for more than ``notify_held_days``; key:
  why, the source and the day it was held.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy.orm import Session

from gateway.lookup.caseload import CaseloadEntry, caseload_entries, months_before
from gateway.model import CanonicalRecord
from gateway.read_model import FoundChild
from gateway.settings import settings


@dataclass(frozen=True, order=True)
class TeamEvent:
    """One event about one child: no detail beyond its kind, key and day."""

    kind: str
    child_id: str
    key: str
    on: date


def detect_events(session: Session, today: date) -> list[TeamEvent]:
    """Every event the index shows today about every EHE child (registered, or removed from
    roll to home education), in a stable order."""
    found: list[TeamEvent] = []
    months, days = settings().notify_unseen_months, settings().notify_held_days
    for child, entry in caseload_entries(session, today=today, months=months):
        found += events_of(child, entry, today=today, unseen_months=months, held_days=days)
    return sorted(found)


def events_of(
    child: FoundChild, entry: CaseloadEntry, *, today: date, unseen_months: int, held_days: int
) -> list[TeamEvent]:
    """One EHE child's events, from its caseload entry (built with every fact)."""
    cid = child.child_id
    found: list[TeamEvent] = []
    if entry.removed_to_home_education and entry.removed_while_known_to_social_care:
        left = entry.left_roll_on or today
        found.append(TeamEvent("removed_while_known", cid, f"left:{left}", left))
    began = _ehe_began(entry)
    if began is not None:
        found += [
            TeamEvent("known_to_social_care", cid, f"began:{start}", start)
            for start in _social_care_starts(child.records)
            if start > began
        ]
    if entry.unseen:
        last = entry.last_seen_by_any_agency
        passed = months_before(last, -unseen_months) if last else today
        found.append(TeamEvent("unseen", cid, f"last:{last or 'never'}", min(passed, today)))
    for notice in child.held:
        waited = notice.since + timedelta(days=held_days)
        if waited < today:
            key = f"{notice.why}:{notice.source}:{notice.since}"
            found.append(TeamEvent("held_record", cid, key, waited))
    return found


def _ehe_began(entry: CaseloadEntry) -> date | None:
    """The day the child became home educated: left the roll to it, or was registered."""
    days = [entry.ehe_registered_on]
    if entry.removed_to_home_education:
        days.append(entry.left_roll_on)
    known = [d for d in days if d is not None]
    return min(known) if known else None


def _social_care_starts(records: list[CanonicalRecord]) -> list[date]:
    """The days social care's involvement began: its referrals, or (with none recorded) the
    start of any episode."""
    facts = [r.social_care for r in records if r.social_care is not None]
    referrals = {e.start_date for f in facts for e in f.referrals if e.start_date}
    if referrals:
        return sorted(referrals)
    episodes = [
        e
        for f in facts
        for e in f.child_in_need + f.child_protection_plans + f.looked_after
        if e.start_date
    ]
    return sorted({e.start_date for e in episodes if e.start_date})
