"""The pipeline's figures per source, computed from the index: what monitoring shows.

Freshness (time since the last good batch, and whether that passes the source's threshold),
record counts, quarantine rates and how long the latest batch took from landing to loaded.
Counts and times only: nothing here can hold personal data.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gateway.monitoring.alerts import read_alerts
from gateway.monitoring.freshness import freshness
from gateway.store.tables import Batch, Child, HeldRecord, SourceRecord


@dataclass(frozen=True)
class SourceMetrics:
    source: str
    batches: int
    received: int
    loaded: int
    quarantined: int
    rejected: int
    not_read: int  # kept, not a record of the stream (another table or resource type)
    held_now: int  # items still in quarantine (not released or rejected since)
    last_good_age_seconds: float | None
    stale_after_seconds: float
    stale: bool
    last_batch_seconds: float | None  # landing to loaded, latest good batch

    @property
    def quarantine_rate(self) -> float:
        records = self.received - self.not_read
        return self.quarantined / records if records else 0.0


@dataclass(frozen=True)
class IndexMetrics:
    sources: list[SourceMetrics]
    current_records: int
    children: int
    alerts: dict[str, int]


def _totals(session: Session) -> dict[str, tuple[int, int, int, int, int, int]]:
    rows = session.execute(
        select(
            Batch.source,
            func.count(),
            func.sum(Batch.received),
            func.sum(Batch.loaded),
            func.sum(Batch.quarantined),
            func.sum(Batch.rejected),
            func.sum(Batch.not_read),
        )
        .where(Batch.status == "loaded")
        .group_by(Batch.source)
    )
    return {r[0]: tuple(int(v or 0) for v in r[1:]) for r in rows}  # type: ignore[misc]


def _latest_durations(session: Session) -> dict[str, float]:
    out: dict[str, tuple[datetime, float]] = {}
    rows = session.execute(
        select(Batch.source, Batch.received_at, Batch.updated_at).where(Batch.status == "loaded")
    )
    for source, received, updated in rows:
        seconds = (_aware(updated) - _aware(received)).total_seconds()
        if source not in out or _aware(updated) > out[source][0]:
            out[source] = (_aware(updated), seconds)
    return {source: seconds for source, (_at, seconds) in out.items()}


def _held_now(session: Session) -> dict[str, int]:
    rows = session.execute(
        select(HeldRecord.source, func.count())
        .where(HeldRecord.status == "quarantined")
        .group_by(HeldRecord.source)
    )
    return {source: int(n) for source, n in rows}


def index_metrics(session: Session, now: datetime | None = None) -> IndexMetrics:
    totals, durations, held = _totals(session), _latest_durations(session), _held_now(session)
    sources = []
    for item in freshness(session, now or datetime.now(UTC)):
        batches, received, loaded, quarantined, rejected, not_read = totals.get(
            item.source, (0,) * 6
        )
        sources.append(
            SourceMetrics(
                source=item.source,
                batches=batches,
                received=received,
                loaded=loaded,
                quarantined=quarantined,
                rejected=rejected,
                not_read=not_read,
                held_now=held.get(item.source, 0),
                last_good_age_seconds=item.age_seconds,
                stale_after_seconds=item.threshold_seconds,
                stale=item.stale,
                last_batch_seconds=durations.get(item.source),
            )
        )
    current = session.scalar(
        select(func.count()).select_from(SourceRecord).where(SourceRecord.is_current.is_(True))
    )
    children = session.scalar(
        select(func.count()).select_from(Child).where(Child.merged_into.is_(None))
    )
    alerts = Counter(a.kind for a in read_alerts())
    return IndexMetrics(sources, int(current or 0), int(children or 0), dict(alerts))


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=UTC)
