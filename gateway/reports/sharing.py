"""The data-sharing report for IG officers: what the audit log says was shared, with whom, why.

Built from the audit log for a date range: requests for child data by organisation, role,
purpose and lawful basis; refusals; and, per child, which organisations saw the child's data.
A "request" is an audit entry whose action asks for child data (lookup, search, caseload);
other entries (consent changes, break-glass openings, audit queries, quarantine actions) are
counted by action only. Break-glass uses and their review state come from the access policy's
own record (``gateway.access.break_glass``), the list IG officers close reviews on.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy.orm import Session

from gateway.access.audit_search import AuditFilter
from gateway.access.audit_search import entries as audit_entries
from gateway.access.break_glass import review_list, uses_of
from gateway.store.tables import AuditEntry, BreakGlass

LOOKUP_ACTIONS = frozenset({"lookup", "worklist", "caseload", "search", "summary"})
# Outcomes that showed something: a summary, a restricted record's existence, candidates.
DISCLOSED_OUTCOMES = frozenset({"disclosed", "restricted", "break_glass", "candidates"})


@dataclass(frozen=True)
class BreakGlassUse:
    """One break-glass override, its review state and the lookups made under it."""

    id: int
    opened_at: datetime
    expires_at: datetime
    user: str
    organisation: str
    role: str
    child_id: str
    purpose: str
    reason: str
    review_state: str  # "open" until an IG officer closes it
    reviewed_by: str | None
    review_note: str | None
    lookups: int


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
    return entry.action in LOOKUP_ACTIONS


def _kind(entry: AuditEntry) -> str:
    return "disclosed" if entry.outcome in DISCLOSED_OUTCOMES else "refused"


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


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _use(override: BreakGlass, lookups: int) -> BreakGlassUse:
    return BreakGlassUse(
        id=override.id,
        opened_at=_utc(override.opened_at),
        expires_at=_utc(override.expires_at),
        user=override.actor,
        organisation=override.organisation,
        role=override.role,
        child_id=override.child_id,
        purpose=override.purpose,
        reason=override.reason,
        review_state=override.review_state,
        reviewed_by=override.reviewed_by,
        review_note=override.review_note,
        lookups=lookups,
    )


def break_glass_uses(
    session: Session, start: date | None = None, end: date | None = None
) -> list[BreakGlassUse]:
    """Overrides opened in ``start``..``end`` (UTC days, inclusive; all when not given), oldest
    first, each with its review state now and the lookups made under it."""
    first = datetime.combine(start, time.min, tzinfo=UTC) if start else None
    after = datetime.combine(end + timedelta(days=1), time.min, tzinfo=UTC) if end else None
    overrides = [
        o
        for o in review_list(session, "all")
        if (first is None or _utc(o.opened_at) >= first)
        and (after is None or _utc(o.opened_at) < after)
    ]
    lookups = uses_of(session, [o.id for o in overrides])
    return [_use(o, lookups[o.id]) for o in overrides]


def build_sharing_report(session: Session, start: date, end: date) -> SharingReport:
    """The report for ``start``..``end`` inclusive (UTC days)."""
    report = SharingReport(start, end)
    entries = audit_entries(session, AuditFilter(start=start, end=end))
    report.break_glass = break_glass_uses(session, start, end)
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
