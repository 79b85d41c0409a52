"""Reading the audit log for IG officers: filter by date, user, organisation, child, action,
purpose and outcome."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from gateway.store.tables import AuditEntry


@dataclass(frozen=True)
class AuditFilter:
    start: date | None = None  # inclusive
    end: date | None = None  # inclusive
    user: str | None = None
    organisation: str | None = None
    outcome: str | None = None
    child_id: str | None = None
    action: str | None = None
    purpose: str | None = None


def day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def _where(query: Select, wanted: AuditFilter) -> Select:
    if wanted.start:
        query = query.where(AuditEntry.at >= day_start(wanted.start))
    if wanted.end:
        query = query.where(AuditEntry.at < day_start(wanted.end + timedelta(days=1)))
    if wanted.user:
        query = query.where(AuditEntry.actor == wanted.user)
    if wanted.organisation:
        query = query.where(AuditEntry.organisation == wanted.organisation)
    if wanted.outcome:
        query = query.where(AuditEntry.outcome == wanted.outcome)
    if wanted.child_id:
        query = query.where(AuditEntry.child_id == wanted.child_id)
    if wanted.action:
        query = query.where(AuditEntry.action == wanted.action)
    if wanted.purpose:
        query = query.where(AuditEntry.purpose == wanted.purpose)
    return query


def search_audit(
    session: Session, wanted: AuditFilter, *, limit: int = 200, offset: int = 0
) -> tuple[int, list[AuditEntry]]:
    """How many entries match, and one page of them, newest first."""
    total = session.scalar(_where(select(func.count()).select_from(AuditEntry), wanted)) or 0
    page = _where(select(AuditEntry), wanted).order_by(AuditEntry.seq.desc())
    return total, list(session.scalars(page.limit(limit).offset(offset)))


def distinct_values(session: Session) -> dict[str, list[str]]:
    """The users, organisations, actions, purposes and outcomes the log holds (for the
    filter's choices; none empty)."""
    columns = {
        "user": AuditEntry.actor,
        "organisation": AuditEntry.organisation,
        "action": AuditEntry.action,
        "purpose": AuditEntry.purpose,
        "outcome": AuditEntry.outcome,
    }
    return {
        name: [v for v in session.scalars(select(column).distinct().order_by(column)) if v]
        for name, column in columns.items()
    }


def entries(session: Session, wanted: AuditFilter) -> list[AuditEntry]:
    """Every matching entry, in chain order (for reports)."""
    return list(session.scalars(_where(select(AuditEntry), wanted).order_by(AuditEntry.seq)))
