"""Loading: move a staged batch into the index in one transaction, or hold it whole.

The same path serves a batch's first load and its reprocessing after a fix in the mapping or
the suite (``reprocess_batch``): records load idempotently (an unchanged record adds no
version), held items that now pass are marked released, items still failing keep their
place in quarantine with the new reasons, and an item a reviewer rejected stays rejected.

A batch that fails a whole-batch check (a gate) is held whole: marked gated with its reasons,
counted as gated in the accounting, alerted once, and never loaded until a person releases it.
It does not stop its source: later batches load as usual, and for a full-snapshot source a
later good snapshot supersedes it.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from sqlalchemy import CursorResult, Update, func, select, update
from sqlalchemy.orm import Session

from connectors.registry import connector_class
from gateway import config
from gateway.errors import FatalConfigError
from gateway.mapping.spec import mapping_for
from gateway.monitoring.alerts import Alert, raise_alert
from gateway.pipeline.gc_pause import cycle_collection_paused
from gateway.pipeline.staging import (
    RECORD_COUNT_RULE,
    mark_failed,
    read_staged,
    stage_batch,
    staged_file,
)
from gateway.read_model import children_of_batch, refresh_restricted
from gateway.settings import settings
from gateway.sources import connector_for
from gateway.store.batch_status import GATED, HELD_WHOLE, LOADED, SETTLED, SUPERSEDED
from gateway.store.engine import session_factory
from gateway.store.loader import hold_items, load_records
from gateway.store.merges import apply_merges
from gateway.store.tables import Batch, HeldRecord, ValidationRun
from gateway.store.tables.base import utcnow
from gateway.validation.runner import CANONICAL_SUITE, suite_meta

log = logging.getLogger(__name__)
ROW_COUNT_RULE = "row_count_near_last_run"
HELD_SHARE_RULE = "held_share_within_limit"
# Gates on the size of a batch, which apply however small it is (the staging count check too).
SIZE_GATES = (ROW_COUNT_RULE, RECORD_COUNT_RULE)


@dataclass(frozen=True)
class Accounting:
    """One batch and what became of its records.

    received = loaded + quarantined + rejected + not_read + gated + pending: ``not_read``
    counts what the file held that is not a record of its stream (named by kind in
    ``not_read_kinds``: kept in the landed file, not read); ``gated`` counts the records of a
    batch held whole by a gate; ``pending`` those of a batch not yet loaded (landed, staged,
    or failed and waiting for the next run), zero once a batch is loaded or gated.
    """

    source: str
    batch: str
    status: str
    received: int
    loaded: int
    quarantined: int
    rejected: int
    gated: int = 0
    pending: int = 0
    not_read: int = 0
    not_read_kinds: tuple[tuple[str, int], ...] = ()
    gate_reasons: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, object]:
        row = asdict(self)
        row["not_read_kinds"] = dict(self.not_read_kinds)
        row["gate_reasons"] = list(self.gate_reasons)
        return row


@dataclass
class StagedBatch:
    records: list[dict[str, Any]]
    held: list[dict[str, Any]]
    summary: list[dict[str, Any]]
    not_read: dict[str, int] = field(default_factory=dict)

    @property
    def items(self) -> int:
        """Records of the stream received: read or held. What the gates judge."""
        return len(self.records) + len(self.held)

    @property
    def received(self) -> int:
        return self.items + sum(self.not_read.values())

    def count_on(self, batch: Batch) -> None:
        """Write what the batch received, and what of it was not read, on its row."""
        batch.received = self.received
        batch.not_read = sum(self.not_read.values())
        batch.not_read_kinds = dict(self.not_read) or None


def max_held_share() -> float:
    return settings().max_held_share


def load_batch(batch_id: str, *, index_url: str | None = None) -> Accounting:
    """Load one staged batch, or hold it whole if it fails a gate (see ``Accounting.gated``).

    A batch already loaded, gated or superseded is left as it is (releasing a gated batch is
    ``reprocess_batch``).
    """
    batch = _batch(batch_id, index_url)
    if batch.status in SETTLED:
        return _stored_accounting(batch, index_url)
    if not staged_file(batch_id).exists():
        stage_batch(batch_id, index_url=index_url)
    try:
        return _load_staged(batch, index_url)
    except Exception:
        mark_failed(batch_id, index_url)
        raise


def load_batches(
    batch_ids: list[str], *, index_url: str | None = None
) -> tuple[list[dict[str, object]], list[str]]:
    """Load each batch; a batch held by a gate does not stop the others.

    Returns the accounting of what loaded and, for each held batch, why it was held.
    """
    loaded: list[dict[str, object]] = []
    stopped: list[str] = []
    for batch_id in batch_ids:
        accounting = load_batch(batch_id, index_url=index_url)
        if accounting.gate_reasons:
            stopped.append(gate_message(accounting))
        else:
            loaded.append(accounting.as_dict())
    return loaded, stopped


def gate_message(accounting: Accounting) -> str:
    """One line saying which batch a gate held and why (rules and counts, never values)."""
    return (
        f"batch {accounting.batch} of {accounting.source} held whole ({accounting.status}): "
        f"{'; '.join(accounting.gate_reasons)}; nothing from it was loaded"
    )


def reprocess_batch(batch_id: str, *, index_url: str | None = None) -> Accounting:
    """Run a landed batch again through today's mapping and suite, and load what now passes."""
    batch = _batch(batch_id, index_url)
    if batch.status == SUPERSEDED:
        raise FatalConfigError(
            f"batch {batch_id} was superseded by a later full snapshot of {batch.source}; "
            "there is nothing to release"
        )
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
        elif line["kind"] == "not_read":
            staged.not_read = line["kinds"]
        else:
            staged.summary = line["summary"]
    return staged


def _gate_check(
    session: Session, batch: Batch, staged: StagedBatch
) -> tuple[list[dict[str, Any]], list[str]]:
    """The batch's summary with the load-time gates added, and the reasons it must be held.

    A batch smaller than ``config.gate_min_records()`` is judged record by record: the gates
    on shares of its records (held share, a column empty in every record) do not stop it; the
    gates on its size (row count, records counted) still do.
    """
    small = staged.items < config.gate_min_records()
    summary = [_judged_by_record(e) if small else e for e in staged.summary]
    row_count = _row_count_gate(session, batch, staged.items)
    if row_count:
        summary.append(row_count)
    held_share = _held_share_gate(staged)
    if held_share:
        summary.append(held_share)
    reasons = [_gate_reason(e) for e in summary if e.get("gate") and e.get("failed")]
    return summary, reasons


def _judged_by_record(entry: dict[str, Any]) -> dict[str, Any]:
    if not entry.get("gate") or entry["rule"] in SIZE_GATES or not entry.get("failed"):
        return entry
    return {**entry, "failed": 0, "detail": "not applied: a small batch is judged record by record"}


def _gate_reason(entry: dict[str, Any]) -> str:
    detail = entry.get("detail")
    return f"{entry['rule']} failed" + (f" ({detail})" if detail else "")


def _held_share_gate(staged: StagedBatch) -> dict[str, Any] | None:
    """More than the allowed share of a batch's records held: the delivery looks broken.

    Batches smaller than ``config.gate_min_records()`` are judged record by record only.
    """
    held, received = len(staged.held), staged.items
    if received < config.gate_min_records() or held <= received * max_held_share():
        return None
    return {
        "suite": CANONICAL_SUITE,
        "rule": HELD_SHARE_RULE,
        "type": "held_share",
        "column": None,
        "severity": "critical",
        "checked": received,
        "failed": held,
        "gate": True,
        "detail": f"{held} of {received} records held, more than the "
        f"{max_held_share():.0%} allowed",
    }


def _hold_whole(
    batch: Batch,
    staged: StagedBatch,
    reasons: list[str],
    index_url: str | None,
) -> Accounting:
    """Keep a gated batch whole: nothing loads; the batch, its reasons and its count are kept,
    and the first time it is gated an alert is raised. A batch already loaded (a release that
    now fails a gate) keeps what it loaded."""
    if batch.status == LOADED:
        log.error("batch %s reprocessed but not applied: %s", batch.batch_id, "; ".join(reasons))
        return replace(_accounting(batch), gate_reasons=tuple(reasons))
    with session_factory(index_url).begin() as session:
        newly = _updated(
            session,
            update(Batch)
            .where(Batch.batch_id == batch.batch_id, Batch.status.notin_(SETTLED))
            .values(status=GATED),
        )
        held = session.get(Batch, batch.batch_id)
        assert held is not None
        if held.status != GATED:  # another run loaded it meanwhile: what it loaded stays
            return replace(_accounting(held), gate_reasons=tuple(reasons))
        staged.count_on(held)
        held.loaded = held.quarantined = held.rejected = 0
        validated = sum(1 for h in staged.held if h["stage"] == "validation")
        _record_validation(
            session,
            batch.batch_id,
            staged.summary,
            checked=len(staged.records) + validated,
            failed=validated,
        )
        accounting = replace(_accounting(held), gate_reasons=tuple(reasons))
    message = gate_message(accounting)
    log.error("%s", message)
    if newly:
        raise_alert(
            Alert(kind="batch_gated", source=batch.source, reason=message, batch=batch.batch_id)
        )
    return accounting


def is_full_snapshot(source: str) -> bool:
    """The source sends its whole population each time (its connector says so)."""
    return bool(connector_class(source).full_snapshot)


def _row_count_gate(session: Session, batch: Batch, received: int) -> dict[str, Any] | None:
    """Records far from the last loaded batch of a full-snapshot source that had records (its
    connector says so; the thresholds are the suite's). Records only: what a file held that is
    not a record of the stream (an SSDA903 table describing no child) is neither compared nor
    a snapshot to compare with."""
    if not is_full_snapshot(batch.source):
        return None
    rule = suite_meta(CANONICAL_SUITE).get("row_count_gate") or {}
    records = Batch.received - Batch.not_read
    previous = session.scalar(
        select(records)
        .where(
            Batch.source == batch.source,
            Batch.status == LOADED,
            Batch.batch_id != batch.batch_id,
            records > 0,
        )
        .order_by(Batch.received_at.desc(), Batch.updated_at.desc())
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
        "detail": f"{received} records, the last loaded batch had {previous}" if far else None,
    }


def _load_staged(batch: Batch, index_url: str | None, *, again: bool = False) -> Accounting:
    with cycle_collection_paused():
        return _load_staged_batch(batch, index_url, again=again)


def _load_staged_batch(batch: Batch, index_url: str | None, *, again: bool) -> Accounting:
    staged = _read(batch.batch_id)
    with session_factory(index_url)() as session:
        staged.summary, reasons = _gate_check(session, batch, staged)
    if reasons:
        return _hold_whole(batch, staged, reasons, index_url)
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
            session,
            batch.source,
            agency,
            batch.batch_id,
            [r["record"] for r in records],
            keeps_contacts=mapping_for(batch.source).contacts is not None,
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
        staged.count_on(target)
        target.loaded = result.loaded
        target.quarantined, target.rejected = _held_counts(session, batch.batch_id)
        target.status = LOADED
        _supersede_older_snapshots(session, target)
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
    return status == LOADED


def _updated(session: Session, statement: Update) -> int:
    """Run an UPDATE; how many rows it changed."""
    result: CursorResult[Any] = session.execute(statement)  # type: ignore[assignment]
    return int(result.rowcount)


def _supersede_older_snapshots(session: Session, loaded: Batch) -> None:
    """A good full snapshot replaces what any earlier gated snapshot of its source would have
    said: those are marked superseded (still kept and counted as gated). A batch with no record
    of the stream in it (an SSDA903 table describing no child) is no snapshot of the source."""
    if not is_full_snapshot(loaded.source) or loaded.records_received == 0:
        return
    superseded = _updated(
        session,
        update(Batch)
        .where(
            Batch.source == loaded.source,
            Batch.status == GATED,
            Batch.received_at <= loaded.received_at,
            Batch.batch_id != loaded.batch_id,
        )
        .values(status=SUPERSEDED),
    )
    if superseded:
        log.info("batch %s supersedes %d gated snapshot(s)", loaded.batch_id, superseded)


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
        source=batch.source,
        batch=batch.batch_id,
        status=batch.status,
        received=batch.received,
        loaded=batch.loaded,
        quarantined=batch.quarantined,
        rejected=batch.rejected,
        gated=batch.gated,
        pending=batch.pending,
        not_read=batch.not_read,
        not_read_kinds=tuple(sorted((batch.not_read_kinds or {}).items())),
    )


def _with_reasons(accounting: Accounting, run: ValidationRun | None) -> Accounting:
    if accounting.status not in HELD_WHOLE or run is None:
        return accounting
    reasons = [_gate_reason(e) for e in run.summary if e.get("gate") and e.get("failed")]
    return replace(accounting, gate_reasons=tuple(reasons))


def _stored_accounting(batch: Batch, index_url: str | None) -> Accounting:
    with session_factory(index_url)() as session:
        run = session.scalar(select(ValidationRun).where(ValidationRun.batch_id == batch.batch_id))
        return _with_reasons(_accounting(batch), run)


def accounting_rows(index_url: str | None = None) -> list[Accounting]:
    """Per source and batch, in any state, what was received and what became of it."""
    with session_factory(index_url)() as session:
        runs = {r.batch_id: r for r in session.scalars(select(ValidationRun))}
        batches = session.scalars(select(Batch).order_by(Batch.source, Batch.received_at))
        return [_with_reasons(_accounting(b), runs.get(b.batch_id)) for b in batches]
