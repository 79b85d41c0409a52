"""How long since each source's last good batch, and which sources are stale.

A good batch is one loaded into the index. Each source has a threshold that fits how often it
sends (``EHE_STALE_AFTER_HOURS_<SOURCE>`` overrides it); past it the source is stale, and the
freshness check raises ``StaleSourceError`` so the orchestrator's failure callback alerts.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gateway.recovery import StaleSourceError
from gateway.sources import source_names
from gateway.store.engine import session_factory
from gateway.store.tables import Batch

log = logging.getLogger(__name__)

# Hours without a good batch before a source counts as stale (a few of its send intervals).
DEFAULT_STALE_AFTER_HOURS = {
    "education__ctf": 72.0,
    "education__ehe_register": 48.0,
    "health__fhir_patient": 26.0,
    "health__hl7v2_adt": 6.0,
    "social_care__case_db": 26.0,
    "social_care__cin_census": 24.0 * 8,
}


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
    hours = os.environ.get(f"EHE_STALE_AFTER_HOURS_{source.upper()}")
    return timedelta(hours=float(hours) if hours else DEFAULT_STALE_AFTER_HOURS.get(source, 26.0))


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
