"""What the assurance report needs to know of each EHE child, as counts can be made from it.

Read through the read model (``educated_children``), one child at a time, into ``ChildFacts``:
the child's EHE register spells, whether a GP is known, social care episodes with their dates,
real contacts (``gateway.lookup.contacts``), the day the child was removed from roll to home
education (the caseload's rule, ``caseload_entry``) and the first check by an EHE officer (the
audit log). No name, birth date or identifier is kept: only dates and flags, and the child id
(to join the audit log; it never leaves this module's callers' counts).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.lookup.caseload import CONTACT_FIELDS, caseload_entry, months_before
from gateway.lookup.contacts import SeenContact, contacts_of, unseen_since
from gateway.read_model import FoundChild, educated_children
from gateway.reports.sharing import DISCLOSED_OUTCOMES
from gateway.settings import settings
from gateway.store.tables import AuditEntry, Child

# The agencies whose contacts count for "seen" (the caseload's, all shared), and "any".
AGENCIES = tuple(sorted(CONTACT_FIELDS))
ANY = "any"
CHECK_ROLE = "ehe_officer"  # a multi-agency check is a lookup by the EHE team
CHECK_ACTIONS = ("lookup",)
CARE_KINDS = ("referrals", "child_in_need", "child_protection_plans", "looked_after")


@dataclass(frozen=True)
class Spell:
    start: date | None
    end: date | None

    def covers(self, day: date) -> bool:
        return (self.start is None or self.start <= day) and (self.end is None or self.end > day)


@dataclass(frozen=True)
class ChildFacts:
    """One child's dated facts (never shown one by one: only counted)."""

    child_id: str
    register: tuple[Spell, ...]
    gp: bool
    care_record: bool
    care: tuple[tuple[str, Spell], ...]  # (kind, spell) for every social care episode
    contacts: tuple[SeenContact, ...]  # oldest first
    removed_on: date | None  # the last day on roll, when removed to home education
    first_check: date | None  # the first EHE officer's lookup on or after removal

    def registered_at(self, day: date) -> bool:
        return any(s.covers(day) for s in self.register)

    def care_open_at(self, day: date, kinds: Iterable[str] = CARE_KINDS) -> bool:
        wanted = set(kinds)
        return any(k in wanted and s.start is not None and s.covers(day) for k, s in self.care)

    def care_ever_by(self, day: date) -> bool:
        """Known to social care by ``day``: an episode begun by then, or a social care record
        with no dated episode."""
        starts = [s.start for _, s in self.care if s.start is not None]
        return (self.care_record and not starts) or any(start <= day for start in starts)

    def last_contact(self, day: date, agencies: Iterable[str] | None = None) -> SeenContact | None:
        wanted = None if agencies is None else set(agencies)
        seen = [c for c in self.contacts if c.on <= day and (wanted is None or c.agency in wanted)]
        return seen[-1] if seen else None

    def seen_within(self, day: date, months: int, agency: str) -> bool:
        """A real contact with the agency (any of the caseload's, for ``ANY``) in the
        ``months`` up to ``day``: the caseload's own rule (``unseen_since``)."""
        agencies = AGENCIES if agency == ANY else (agency,)
        last = self.last_contact(day, agencies)
        return not unseen_since(last, months_before(day, months))


def _spells(records: Iterable[object], attribute: str) -> list[tuple[str, Spell]]:
    found: list[tuple[str, Spell]] = []
    for record in records:
        facts = getattr(record, attribute, None)
        if facts is None:
            continue
        if attribute == "education":
            found += [("ehe", Spell(e.registered_on, e.deregistered_on)) for e in facts.ehe]
        else:
            for kind in CARE_KINDS:
                found += [(kind, Spell(e.start_date, e.end_date)) for e in getattr(facts, kind)]
    return found


def child_facts(child: FoundChild, today: date, checks: dict[str, list[date]]) -> ChildFacts:
    records = child.records
    months = settings().caseload_act_now_unseen_months  # (only the removal is read from it)
    entry = caseload_entry(child, records, today=today, unseen_months=months)
    removed_on = entry.left_roll_on if entry and entry.removed_to_home_education else None
    after = [d for d in checks.get(child.child_id, []) if removed_on and d >= removed_on]
    return ChildFacts(
        child_id=child.child_id,
        register=tuple(s for _, s in _spells(records, "education")),
        gp=any(r.health is not None and bool(r.health.gp_practice_ods) for r in records),
        care_record=any(r.social_care is not None for r in records),
        care=tuple(_spells(records, "social_care")),
        contacts=tuple(contacts_of(records)),
        removed_on=removed_on,
        first_check=min(after, default=None),
    )


def check_days(session: Session) -> dict[str, list[date]]:
    """Per child (followed through merges to the survivor): the days EHE officers looked the
    child up and were shown something. Dates only."""
    entry = AuditEntry.__table__.c
    looked = session.execute(
        select(entry.child_id, entry.at)
        .where(
            entry.role == CHECK_ROLE,
            entry.action.in_(CHECK_ACTIONS),
            entry.outcome.in_(sorted(DISCLOSED_OUTCOMES)),
            entry.child_id.isnot(None),
        )
        .distinct()
    )
    rows = list(looked)
    merged = {
        child_id: into
        for child_id, into in session.execute(
            select(Child.child_id, Child.merged_into).where(Child.merged_into.isnot(None))
        )
    }
    found: dict[str, set[date]] = {}
    for child_id, at in rows:
        survivor, seen = child_id, set()
        while survivor in merged and survivor not in seen:
            seen.add(survivor)
            survivor = merged[survivor]
        found.setdefault(survivor, set()).add(at.date())
    return {child: sorted(days) for child, days in found.items()}


def ehe_children(session: Session, today: date) -> list[ChildFacts]:
    """Every child an education source knows, as dated facts (a child never on the register
    nor removed from roll to home education counts in no figure)."""
    checks = check_days(session)
    facts = [child_facts(c, today, checks) for c in educated_children(session)]
    return [f for f in facts if f.register or f.removed_on]
