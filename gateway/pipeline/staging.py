"""Staging: parse a landed batch, map it, validate it, and write what will be loaded.

Nothing reaches the index here. The staged file (JSON lines) holds every item of the batch:
accepted canonical records (with their warnings), held items (quarantined or rejected, each
with its reasons and the raw or mapped content), and what the file held that is not a record
of the stream (``not_read``, by kind: it stays in the landed file), so the load step can
account for everything: received = records read + items held + not read.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections import Counter, deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import update

from gateway import config
from gateway.errors import FatalConfigError
from gateway.mapping import apply_mapping, mapping_for
from gateway.model import CanonicalRecord
from gateway.pipeline.gc_pause import cycle_collection_paused
from gateway.pipeline.landing import landed_file
from gateway.sources import connector_for
from gateway.store.batch_status import FAILED, SETTLED, STAGED
from gateway.store.engine import session_factory
from gateway.store.tables import Batch
from gateway.validation.runner import (
    CANONICAL_SUITE,
    CRITICAL,
    load_validator,
    validate_raw,
    validate_records,
)

log = logging.getLogger(__name__)
RECORD_COUNT_RULE = "records_counted_match"


@dataclass
class StagedCounts:
    batch_id: str
    received: int = 0
    accepted: int = 0
    quarantined: int = 0
    rejected: int = 0
    not_read: Counter[str] = field(default_factory=Counter)


def staged_file(batch_id: str) -> Path:
    return config.staging_dir() / f"{batch_id}.jsonl"


def stage_batch(batch_id: str, *, index_url: str | None = None) -> StagedCounts:
    """Parse, map and validate one landed batch into its staging file.

    A batch whose staging raises is marked failed (the next run of its source tries it again).
    """
    try:
        return _stage_batch(batch_id, index_url)
    except Exception:
        mark_failed(batch_id, index_url)
        raise


def mark_failed(batch_id: str, index_url: str | None) -> None:
    """Say in the batch row that a stage raised; if the index cannot be reached either, the
    batch keeps its state (landed or staged), which the next run picks up all the same."""
    try:
        with session_factory(index_url).begin() as session:
            session.execute(
                update(Batch)
                .where(Batch.batch_id == batch_id, Batch.status.notin_(SETTLED))
                .values(status=FAILED)
            )
    except Exception:  # the original failure is what the caller must see
        log.warning("batch %s: could not mark it failed", batch_id)


def _stage_batch(batch_id: str, index_url: str | None) -> StagedCounts:
    with session_factory(index_url)() as session:
        batch = session.get(Batch, batch_id)
        if batch is None:
            raise FatalConfigError(f"no landed batch {batch_id}")
        source, path, received_at = batch.source, landed_file(batch), batch.received_at
    # Loaded here, not first inside ``stage_items``: what its import leaves in a reference
    # cycle would hold that frame, and with it every record of the batch, until the cycle
    # collector next ran (after the batch, while it is paused: seconds to a minute at 1M).
    load_validator()
    counts = StagedCounts(batch_id)
    out = staged_file(batch_id)
    out.parent.mkdir(parents=True, exist_ok=True)
    # One partial file per process: two runs staging the same batch at once never collide.
    partial = out.with_suffix(f".{os.getpid()}.{threading.get_ident()}.partial")
    with cycle_collection_paused(), partial.open("w", encoding="utf-8") as handle:
        for line in stage_items(source, path, batch_id, received_at, counts):
            handle.write(json.dumps(line, default=str) + "\n")
    partial.replace(out)
    with session_factory(index_url).begin() as session:
        session.execute(
            update(Batch)
            .where(Batch.batch_id == batch_id, Batch.status.notin_(SETTLED))
            .values(
                status=STAGED,
                received=counts.received,
                not_read=counts.not_read.total(),
                not_read_kinds=dict(counts.not_read) or None,
            )
        )
    log.info(
        "batch %s staged: received %d, accepted %d, quarantined %d, rejected %d, not read %d",
        batch_id,
        counts.received,
        counts.accepted,
        counts.quarantined,
        counts.rejected,
        counts.not_read.total(),
    )
    return counts


def stage_items(
    source: str,
    path: Path,
    batch_id: str,
    received_at: datetime,
    counts: StagedCounts | None = None,
) -> Iterator[dict[str, Any]]:
    """Every item of one file as a staging line: a record with its warnings, or a held item;
    then what the file held that is not a record of the stream, by kind (a ``not_read`` line).

    Pure: reads the file, touches no database. The last line is the validation summary.
    """
    counts = counts or StagedCounts(batch_id)
    spec = mapping_for(source)
    readable: deque[tuple[str, dict[str, Any]]] = deque()
    held: list[dict[str, Any]] = []
    retiring: dict[str, str] = {}  # item position -> the record id its merge retires
    connector = connector_for(source)
    for item in connector.read(path):
        counts.received += 1
        if item.record is None:
            held.append(
                _held(
                    item.position,
                    stage="connector",
                    status="rejected",
                    reasons=[{"stage": "connector", "rule": "unreadable", "explain": item.error}],
                    payload=item.raw,
                )
            )
        else:
            readable.append((item.position, item.record))
    raw = validate_raw(source, [record for _position, record in readable])
    accepted: list[tuple[str, CanonicalRecord, list[dict[str, Any]]]] = []
    # Each raw item is let go once mapped (one it holds keeps its own copy), so a batch's raw
    # items and its canonical records are not all held at once.
    for row in range(len(readable)):
        position, raw_record = readable.popleft()
        raw_failures = raw.failures.get(row, []) if raw else []
        mapped = apply_mapping(spec, raw_record, batch_id=batch_id, received_at=received_at)
        critical = [f.as_reason() for f in raw_failures if f.severity == CRITICAL]
        if mapped.record is None or critical:
            held.append(_held_raw(position, raw_record, mapped, critical))
            continue
        warnings = [f.as_reason() for f in raw_failures if f.severity != CRITICAL]
        accepted.append((position, mapped.record, warnings))
        if mapped.retires:
            retiring[position] = mapped.retires
    outcome = validate_records([record for _position, record, _warnings in accepted])
    yield from _lines(accepted, outcome, held, counts, retiring)
    # Items the connector kept in the file without reading (another resource type, a table of
    # the return that describes no child) are received too, and accounted for by kind.
    counts.not_read = Counter(connector.not_read)
    counts.received += counts.not_read.total()
    yield {"kind": "not_read", "kinds": dict(sorted(counts.not_read.items()))}
    summary = (raw.summary if raw else []) + outcome.summary
    counted = connector.count_records(path)
    if counted is not None:
        summary.append(record_count_check(counted, counts.received))
    yield {"kind": "validation", "suite": outcome.suite, "summary": summary}


def record_count_check(counted: int, received: int) -> dict[str, Any]:
    """The records counted in the file without the parser against the items read from it: a
    gate (the batch is held whole) when they differ, for then a record may have gone missing.
    A file with no record in it may give one item, the reason it was refused."""
    matches = received == counted or (counted == 0 and received <= 1)
    return {
        "suite": CANONICAL_SUITE,
        "rule": RECORD_COUNT_RULE,
        "type": "records_counted",
        "column": None,
        "severity": CRITICAL,
        "checked": counted,
        "failed": 0 if matches else max(abs(counted - received), 1),
        "gate": True,
        "detail": None if matches else f"{counted} records counted in the file, {received} read",
    }


def _held_raw(
    position: str, raw_record: dict[str, Any], mapped: Any, critical: list[dict[str, Any]]
) -> dict[str, Any]:
    """A raw item held before loading: it failed its source's suite, or could not be mapped."""
    reasons = critical + [
        {"stage": "mapping", "rule": "mapping_failed", "explain": p} for p in mapped.problems
    ]
    return _held(
        position,
        stage="validation" if critical else "mapping",
        status="quarantined",
        reasons=reasons,
        payload=json.dumps(raw_record, default=str),
        record_id=mapped.record_id,
    )


def _lines(
    accepted: list[tuple[str, CanonicalRecord, list[dict[str, Any]]]],
    outcome: Any,
    held: list[dict[str, Any]],
    counts: StagedCounts,
    retiring: dict[str, str],
) -> Iterator[dict[str, Any]]:
    for row, (position, record, raw_warnings) in enumerate(accepted):
        failures = outcome.quarantined(row)
        if failures:
            counts.quarantined += 1
            yield _held(
                position,
                stage="validation",
                status="quarantined",
                reasons=[f.as_reason() for f in failures],
                payload=record.model_dump_json(),
                record_id=record.provenance.record_id,
            )
            continue
        counts.accepted += 1
        warnings = raw_warnings + [f.as_reason() for f in outcome.warnings(row)]
        line = {
            "kind": "record",
            "item_key": position,
            "record": record.model_dump(mode="json"),
            "warnings": warnings,
        }
        if position in retiring:
            line["retires"] = retiring[position]
        yield line
    for item in held:
        if item["status"] == "rejected":
            counts.rejected += 1
        else:
            counts.quarantined += 1
        yield item


def _held(
    position: str,
    *,
    stage: str,
    status: str,
    reasons: list[dict[str, Any]],
    payload: str,
    record_id: str | None = None,
) -> dict[str, Any]:
    return {
        "kind": "held",
        "item_key": position,
        "record_id": record_id,
        "stage": stage,
        "status": status,
        "reasons": reasons,
        "payload": payload,
    }


def read_staged(batch_id: str) -> Iterator[dict[str, Any]]:
    with staged_file(batch_id).open(encoding="utf-8") as handle:
        for line in handle:
            yield json.loads(line)
