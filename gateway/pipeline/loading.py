"""Loading: move a staged batch into the index in one transaction, or not at all."""

from __future__ import annotations

import logging
import os
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.errors import BatchGateError, FatalConfigError
from gateway.pipeline.staging import read_staged, stage_batch, staged_file
from gateway.sources import connector_for
from gateway.store.engine import session_factory
from gateway.store.loader import hold_items, load_records
from gateway.store.tables import Batch, ValidationRun

log = logging.getLogger(__name__)
DEFAULT_MAX_HELD_SHARE = 0.5


@dataclass(frozen=True)
class Accounting:
    source: str
    batch: str
    received: int
    loaded: int
    quarantined: int
    rejected: int

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def max_held_share() -> float:
    return float(os.environ.get("EHE_MAX_HELD_SHARE", DEFAULT_MAX_HELD_SHARE))


def load_batch(batch_id: str, *, index_url: str | None = None) -> Accounting:
    """Load one staged batch; a batch already loaded is left as it is."""
    Session = session_factory(index_url)
    with Session() as session:
        batch = session.get(Batch, batch_id)
        if batch is None:
            raise FatalConfigError(f"no landed batch {batch_id}")
        if batch.status == "loaded":
            return _accounting(batch)
        source = batch.source
    if not staged_file(batch_id).exists():
        stage_batch(batch_id, index_url=index_url)
    records: list[dict[str, Any]] = []
    held: list[dict[str, Any]] = []
    summary: list[dict[str, Any]] = []
    for line in read_staged(batch_id):
        if line["kind"] == "record":
            records.append(line["record"])
        elif line["kind"] == "held":
            held.append(line)
        else:
            summary = line["summary"]
    received = len(records) + len(held)
    share = len(held) / received if received else 0.0
    if share > max_held_share():
        with Session.begin() as session:
            gated = session.get(Batch, batch_id)
            assert gated is not None
            gated.status = "gated"
        raise BatchGateError(
            f"batch {batch_id}: {len(held)} of {received} records failed ({share:.0%}), more than "
            f"the {max_held_share():.0%} allowed; nothing from it was loaded"
        )
    agency = connector_for(source).agency
    with Session.begin() as session:
        result = load_records(session, source, agency, batch_id, records)
        hold_items(session, source, batch_id, held)
        _record_validation(
            session,
            batch_id,
            summary,
            checked=len(records) + _validated(held),
            failed=_validated(held),
        )
        batch = session.get(Batch, batch_id)
        assert batch is not None
        batch.received = received
        batch.loaded = result.loaded
        batch.quarantined = sum(1 for h in held if h["status"] == "quarantined")
        batch.rejected = sum(1 for h in held if h["status"] == "rejected")
        batch.status = "loaded"
        accounting = _accounting(batch)
    log.info(
        "batch %s loaded: %d records (%d new versions), %d quarantined, %d rejected",
        batch_id,
        result.loaded,
        result.new_versions,
        accounting.quarantined,
        accounting.rejected,
    )
    return accounting


def _validated(held: list[dict[str, Any]]) -> int:
    return sum(1 for h in held if h["stage"] == "validation")


def _record_validation(
    session: Session, batch_id: str, summary: list[dict[str, Any]], *, checked: int, failed: int
) -> None:
    existing = session.scalar(select(ValidationRun).where(ValidationRun.batch_id == batch_id))
    run = existing or ValidationRun(batch_id=batch_id, suite="canonical_child")
    run.records_checked = checked
    run.records_failed = failed
    run.success = failed == 0
    run.summary = summary
    session.add(run)


def _accounting(batch: Batch) -> Accounting:
    return Accounting(
        batch.source,
        batch.batch_id,
        batch.received,
        batch.loaded,
        batch.quarantined,
        batch.rejected,
    )


def accounting_rows(index_url: str | None = None) -> list[Accounting]:
    """Per source and batch, what was received and what became of it."""
    with session_factory(index_url)() as session:
        batches = session.scalars(
            select(Batch).where(Batch.status == "loaded").order_by(Batch.source, Batch.received_at)
        )
        return [_accounting(b) for b in batches]
