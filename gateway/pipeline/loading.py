"""Loading: move a staged batch into the index in one transaction, or not at all.

The same path serves a batch's first load and its reprocessing after a fix in the mapping or
the suite (``reprocess_batch``): records load idempotently (an unchanged record adds no
version), held items that now pass are marked released, items still failing keep their
place in quarantine with the new reasons, and an item a reviewer rejected stays rejected.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from connectors.registry import connector_class
from gateway.errors import BatchGateError, FatalConfigError
from gateway.pipeline.gc_pause import cycle_collection_paused
from gateway.pipeline.staging import read_staged, stage_batch, staged_file
from gateway.read_model import children_of_batch, refresh_restricted
from gateway.settings import settings
from gateway.sources import connector_for
from gateway.store.engine import session_factory
from gateway.store.loader import hold_items, load_records
from gateway.store.merges import apply_merges
from gateway.store.tables import Batch, HeldRecord, ValidationRun
from gateway.store.tables.base import utcnow
from gateway.validation.runner import CANONICAL_SUITE, suite_meta

log = logging.getLogger(__name__)
ROW_COUNT_RULE = "row_count_near_last_run"


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


@dataclass
class StagedBatch:
    records: list[dict[str, Any]]
    held: list[dict[str, Any]]
    summary: list[dict[str, Any]]

    @property
    def received(self) -> int:
        return len(self.records) + len(self.held)


def max_held_share() -> float:
    return settings().max_held_share


def load_batch(batch_id: str, *, index_url: str | None = None) -> Accounting:
    """Load one staged batch; a batch already loaded is left as it is."""
    batch = _batch(batch_id, index_url)
    if batch.status == "loaded":
        return _accounting(batch)
    if not staged_file(batch_id).exists():
        stage_batch(batch_id, index_url=index_url)
    return _load_staged(batch, index_url)


def load_batches(
    batch_ids: list[str], *, index_url: str | None = None
) -> tuple[list[dict[str, object]], list[str]]:
    """Load each batch; a batch stopped by a gate does not stop the others.

    Returns the accounting of what loaded and the reason each stopped batch gives.
    """
    loaded: list[dict[str, object]] = []
    stopped: list[str] = []
    for batch_id in batch_ids:
        try:
            loaded.append(load_batch(batch_id, index_url=index_url).as_dict())
        except BatchGateError as exc:
            log.error("%s", exc)
            stopped.append(str(exc))
    return loaded, stopped


def reprocess_batch(batch_id: str, *, index_url: str | None = None) -> Accounting:
    """Run a landed batch again through today's mapping and suite, and load what now passes."""
    batch = _batch(batch_id, index_url)
    stage_batch(batch_id, index_url=index_url)
    return _load_staged(batch, index_url, again=True)


def _batch(batch_id: str, index_url: str | None) -> Batch:
    with session_factory(index_url)() as session:
        batch = session.get(Batch, batch_id)
    if batch is None:
        raise FatalConfigError(f"no landed batch {batch_id}")
    return batch


def _read(batch_id: str) -> StagedBatch:
    staged = StagedBatch([], [], [])
    for line in read_staged(batch_id):
        if line["kind"] == "record":
            staged.records.append(line)
        elif line["kind"] == "held":
            staged.held.append(line)
        else:
            staged.summary = line["summary"]
    return staged


def _gate(batch: Batch, staged: StagedBatch, index_url: str | None) -> None:
    """Stop the whole batch if it fails a batch-level check; record why, load nothing."""
    with session_factory(index_url)() as session:
        row_count = _row_count_gate(session, batch, staged.received)
    if row_count:
        staged.summary = [*staged.summary, row_count]
    reasons = [f"{e['rule']} failed" for e in staged.summary if e.get("gate") and e.get("failed")]
    share = len(staged.held) / staged.received if staged.received else 0.0
    if share > max_held_share():
        reasons.append(
            f"{len(staged.held)} of {staged.received} records failed ({share:.0%}), "
            f"more than the {max_held_share():.0%} allowed"
        )
    if not reasons:
        return
    with session_factory(index_url).begin() as session:
        gated = session.get(Batch, batch.batch_id)
        assert gated is not None
        gated.status = "gated"
        gated.received = staged.received
        validated = sum(1 for h in staged.held if h["stage"] == "validation")
        _record_validation(
            session,
            batch.batch_id,
            staged.summary,
            checked=len(staged.records) + validated,
            failed=validated,
        )
    raise BatchGateError(
        f"batch {batch.batch_id} of {batch.source} stopped: {'; '.join(reasons)}; "
        "nothing from it was loaded"
    )


def _row_count_gate(session: Session, batch: Batch, received: int) -> dict[str, Any] | None:
    """Row count far from the last loaded batch of a full-snapshot source (its connector says
    so; the thresholds are the suite's)."""
    if not connector_class(batch.source).full_snapshot:
        return None
    rule = suite_meta(CANONICAL_SUITE).get("row_count_gate") or {}
    previous = session.scalar(
        select(Batch.received)
        .where(
            Batch.source == batch.source,
            Batch.status == "loaded",
            Batch.batch_id != batch.batch_id,
        )
        .order_by(Batch.received_at.desc())
        .limit(1)
    )
    max_change = float(rule.get("max_change", 3.0))
    far = (
        previous is not None
        and previous >= int(rule.get("min_previous", 50))
        and not previous / max_change <= received <= previous * max_change
    )
    return {
        "suite": CANONICAL_SUITE,
        "rule": ROW_COUNT_RULE,
        "type": "expect_table_row_count_to_be_between",
        "column": None,
        "severity": "critical",
        "checked": received,
        "failed": received if far else 0,
        "gate": True,
        "last_run": previous,
    }


def _load_staged(batch: Batch, index_url: str | None, *, again: bool = False) -> Accounting:
    with cycle_collection_paused():
        return _load_staged_batch(batch, index_url, again=again)


def _load_staged_batch(batch: Batch, index_url: str | None, *, again: bool) -> Accounting:
    staged = _read(batch.batch_id)
    _gate(batch, staged, index_url)
    agency = connector_for(batch.source).agency
    with session_factory(index_url).begin() as session:
        if _claim(session, batch.batch_id) and not again:
            done = session.get(Batch, batch.batch_id)
            assert done is not None
            return _accounting(done)
        decided = {
            row.item_key: row
            for row in session.scalars(
                select(HeldRecord).where(HeldRecord.batch_id == batch.batch_id)
            )
        }
        records = [
            line
            for line in staged.records
            if not (line["item_key"] in decided and decided[line["item_key"]].status == "rejected")
        ]
        result = load_records(
            session, batch.source, agency, batch.batch_id, [r["record"] for r in records]
        )
        apply_merges(session, batch.source, records)
        # A new version may carry (or drop) a restricted label: its child's verdict follows.
        refresh_restricted(session, children_of_batch(session, batch.source, batch.batch_id))
        for line in records:
            row = decided.get(line["item_key"])
            if row is not None and row.status == "quarantined":
                row.status = "released"
        for line in staged.held:
            row = decided.get(line["item_key"])
            if row is not None and row.status != "rejected":
                row.status, row.reasons = line["status"], line["reasons"]
        hold_items(
            session,
            batch.source,
            batch.batch_id,
            [h for h in staged.held if h["item_key"] not in decided],
        )
        validated = sum(1 for h in staged.held if h["stage"] == "validation")
        _record_validation(
            session,
            batch.batch_id,
            staged.summary,
            checked=len(staged.records) + validated,
            failed=validated,
        )
        target = session.get(Batch, batch.batch_id)
        assert target is not None
        target.received = staged.received
        target.loaded = result.loaded
        target.quarantined, target.rejected = _held_counts(session, batch.batch_id)
        target.status = "loaded"
        accounting = _accounting(target)
    log.info(
        "batch %s loaded: %d records (%d new versions), %d quarantined, %d rejected",
        batch.batch_id,
        result.loaded,
        result.new_versions,
        accounting.quarantined,
        accounting.rejected,
    )
    return accounting


def _claim(session: Session, batch_id: str) -> bool:
    """Lock the batch for this load (a row lock on PostgreSQL, the write lock on SQLite), so a
    second run loading it at once waits; True if, once locked, it turns out already loaded."""
    session.execute(update(Batch).where(Batch.batch_id == batch_id).values(updated_at=utcnow()))
    status = session.scalar(select(Batch.status).where(Batch.batch_id == batch_id))
    return status == "loaded"


def _held_counts(session: Session, batch_id: str) -> tuple[int, int]:
    counts = dict(
        session.execute(
            select(HeldRecord.status, func.count())
            .where(HeldRecord.batch_id == batch_id)
            .group_by(HeldRecord.status)
        ).all()
    )
    return int(counts.get("quarantined", 0)), int(counts.get("rejected", 0))


def _record_validation(
    session: Session, batch_id: str, summary: list[dict[str, Any]], *, checked: int, failed: int
) -> None:
    existing = session.scalar(select(ValidationRun).where(ValidationRun.batch_id == batch_id))
    run = existing or ValidationRun(batch_id=batch_id, suite=CANONICAL_SUITE)
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
