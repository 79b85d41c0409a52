"""How long since each source's last good batch, and which sources are stale.

A good batch is one loaded into the index. Each source has a threshold that fits how often it
sends (its connector's ``stale_after_hours``; ``EHE_STALE_AFTER_HOURS_<SOURCE>`` overrides it);
past it the source is stale, and the freshness check raises ``StaleSourceError`` so the
orchestrator's failure callback alerts.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from connectors.registry import connector_class
from gateway.recovery import StaleSourceError
from gateway.settings import stale_after_hours_override
from gateway.sources import source_names
from gateway.store.engine import session_factory
from gateway.store.tables import Batch

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Freshness:
    source: str
    last_good_at: datetime | None
    age_seconds: float | None
    threshold_seconds: float

    @property
    def stale(self) -> bool:
        return self.age_seconds is None or self.age_seconds > self.threshold_seconds


def stale_after(source: str) -> timedelta:
    hours = stale_after_hours_override(source)
    return timedelta(hours=connector_class(source).stale_after_hours if hours is None else hours)


def last_good_batches(session: Session) -> dict[str, datetime]:
    rows = session.execute(
        select(Batch.source, func.max(Batch.updated_at))
        .where(Batch.status == "loaded")
        .group_by(Batch.source)
    )
    return {source: _aware(at) for source, at in rows if at is not None}


def freshness(session: Session, now: datetime | None = None) -> list[Freshness]:
    """Every known source's freshness, in name order."""
    now = now or datetime.now(UTC)
    last = last_good_batches(session)
    out = []
    for source in source_names():
        at = last.get(source)
        age = (now - at).total_seconds() if at else None
        out.append(Freshness(source, at, age, stale_after(source).total_seconds()))
    return out


def check_freshness(
    source: str, *, index_url: str | None = None, now: datetime | None = None
) -> Freshness:
    """Return the source's freshness, or raise ``StaleSourceError`` if it is stale."""
    with session_factory(index_url)() as session:
        found = {f.source: f for f in freshness(session, now)}
    item = found[source]
    if item.stale:
        age = "never" if item.age_seconds is None else f"{item.age_seconds / 3600:.1f} h ago"
        raise StaleSourceError(
            f"source {source} is stale: last good batch {age}, "
            f"threshold {item.threshold_seconds / 3600:.1f} h"
        )
    log.info("source %s fresh: last good batch %.0f s ago", source, item.age_seconds or 0.0)
    return item


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=UTC)
