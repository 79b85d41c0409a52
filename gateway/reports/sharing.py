"""The data-sharing report for IG officers: what the audit log says was shared, with whom, why.

Built only from the audit log for a date range: requests for child data by organisation, role,
purpose and lawful basis; refusals; break-glass uses and their review state; and, per child,
which organisations saw the child's data. A "request" is an audit entry that states a purpose
or whose action is a lookup of child data; administrative entries (quarantine actions, audit
queries) are counted by action only.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.access.audit_search import AuditFilter
from gateway.access.audit_search import entries as audit_entries
from gateway.store.tables import AuditEntry

LOOKUP_ACTIONS = frozenset({"lookup", "worklist", "caseload", "search", "summary", "break_glass"})
DISCLOSED = "disclosed"
BREAK_GLASS_CLOSING = frozenset({"break_glass_review", "break_glass_close", "break_glass_closed"})


@dataclass(frozen=True)
class BreakGlassUse:
    seq: int
    at: datetime
    user: str
    organisation: str
    role: str
    child_id: str | None
    purpose: str | None
    review_state: str  # "open" until an IG officer closes it


@dataclass
class Recipient:
    organisation: str
    role: str
    times: int = 0
    purposes: set[str] = field(default_factory=set)
    first: datetime | None = None
    last: datetime | None = None


@dataclass
class SharingReport:
    start: date
    end: date
    requests: int = 0
    disclosed: int = 0
    by_action: Counter[str] = field(default_factory=Counter)
    by_organisation: dict[str, Counter[str]] = field(default_factory=dict)
    by_role: dict[str, Counter[str]] = field(default_factory=dict)
    by_purpose: dict[str, Counter[str]] = field(default_factory=dict)
    by_basis: dict[str, Counter[str]] = field(default_factory=dict)
    refusals: Counter[tuple[str, str, str, str]] = field(default_factory=Counter)
    per_day: dict[date, Counter[str]] = field(default_factory=dict)
    break_glass: list[BreakGlassUse] = field(default_factory=list)
    children: dict[str, list[Recipient]] = field(default_factory=dict)

    @property
    def refused(self) -> int:
        return self.requests - self.disclosed

    @property
    def break_glass_open(self) -> int:
        return sum(1 for use in self.break_glass if use.review_state == "open")


def is_request(entry: AuditEntry) -> bool:
    return entry.purpose is not None or entry.action in LOOKUP_ACTIONS


def _is_break_glass(entry: AuditEntry) -> bool:
    return entry.action == "break_glass" or entry.outcome == "break_glass"


def _kind(entry: AuditEntry) -> str:
    return "disclosed" if entry.outcome == DISCLOSED else "refused"


def _count(table: dict[str, Counter[str]], key: str, kind: str) -> None:
    table.setdefault(key, Counter())[kind] += 1


def _add_recipient(report: SharingReport, entry: AuditEntry) -> None:
    if entry.child_id is None:
        return
    recipients = report.children.setdefault(entry.child_id, [])
    found = next(
        (r for r in recipients if (r.organisation, r.role) == (entry.organisation, entry.role)),
        None,
    )
    if found is None:
        found = Recipient(entry.organisation, entry.role)
        recipients.append(found)
    found.times += 1
    if entry.purpose:
        found.purposes.add(entry.purpose)
    found.first = min(found.first or entry.at, entry.at)
    found.last = max(found.last or entry.at, entry.at)


def _add_request(report: SharingReport, entry: AuditEntry) -> None:
    kind = _kind(entry)
    report.requests += 1
    _count(report.by_organisation, entry.organisation, kind)
    _count(report.by_role, entry.role, kind)
    _count(report.by_purpose, entry.purpose or "(none stated)", kind)
    _count(report.by_basis, entry.lawful_basis or "(none)", kind)
    report.per_day.setdefault(entry.at.date(), Counter())[kind] += 1
    if kind == "disclosed":
        report.disclosed += 1
        _add_recipient(report, entry)
    else:
        key = (entry.outcome, entry.organisation, entry.role, entry.purpose or "(none stated)")
        report.refusals[key] += 1


def _closings(session: Session, after_seq: int) -> list[AuditEntry]:
    query = select(AuditEntry).where(
        AuditEntry.action.in_(BREAK_GLASS_CLOSING), AuditEntry.seq > after_seq
    )
    return list(session.scalars(query.order_by(AuditEntry.seq)))


def break_glass_uses(session: Session, entries: list[AuditEntry]) -> list[BreakGlassUse]:
    """The break-glass uses among ``entries``, each "open" until a later closing entry (at any
    time, even after the period) names the same child; one closing closes one use."""
    uses = [e for e in entries if _is_break_glass(e)]
    closed: set[int] = set()
    for closing in _closings(session, uses[0].seq) if uses else []:
        match = next(
            (
                u
                for u in uses
                if u.seq < closing.seq and u.seq not in closed and u.child_id == closing.child_id
            ),
            None,
        )
        if match is not None:
            closed.add(match.seq)
    return [
        BreakGlassUse(
            u.seq,
            u.at,
            u.actor,
            u.organisation,
            u.role,
            u.child_id,
            u.purpose,
            "closed" if u.seq in closed else "open",
        )
        for u in uses
    ]


def build_sharing_report(session: Session, start: date, end: date) -> SharingReport:
    """The report for ``start``..``end`` inclusive (UTC days)."""
    report = SharingReport(start, end)
    entries = audit_entries(session, AuditFilter(start=start, end=end))
    report.break_glass = break_glass_uses(session, entries)
    for entry in entries:
        report.by_action[entry.action] += 1
        if is_request(entry):
            _add_request(report, entry)
    return report


def disclosure_rows(report: SharingReport) -> list[dict[str, str | int]]:
    """One row per child and recipient (organisation, role): for the CSV and the HTML table."""
    rows: list[dict[str, str | int]] = []
    for child_id in sorted(report.children):
        for r in sorted(report.children[child_id], key=lambda r: (r.organisation, r.role)):
            rows.append(
                {
                    "child_id": child_id,
                    "organisation": r.organisation,
                    "role": r.role,
                    "times": r.times,
                    "purposes": ", ".join(sorted(r.purposes)),
                    "first": r.first.isoformat() if r.first else "",
                    "last": r.last.isoformat() if r.last else "",
                }
            )
    return rows
