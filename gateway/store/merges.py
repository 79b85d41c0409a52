"""Merges a source sends (HL7 ADT^A40): the retired record is marked merged into the survivor.

Nothing is deleted or overwritten: every version of the retired record stays, each marked with
``merged_into_record_id``; linkage then puts the retired record with its survivor. A version of
a retired record that arrives after the merge is marked as well.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from gateway.store.tables import SourceRecord

log = logging.getLogger(__name__)
CHUNK = 500


def apply_merges(session: Session, source: str, lines: Sequence[dict[str, Any]]) -> int:
    """Apply the merges in a batch's staged record lines (``retires``); return records marked."""
    marked = 0
    for line in lines:
        retired = line.get("retires")
        if retired:
            marked += _mark(session, source, retired, line["record"]["provenance"]["record_id"])
    _carry_forward(session, source, [line["record"]["provenance"]["record_id"] for line in lines])
    if marked:
        log.info("source %s: %d retired record(s) marked merged", source, marked)
    return marked


def _mark(session: Session, source: str, retired: str, survivor: str) -> int:
    result = session.execute(
        update(SourceRecord)
        .where(SourceRecord.source == source, SourceRecord.record_id == retired)
        .values(merged_into_record_id=survivor)
        .execution_options(synchronize_session=False)
    )
    return 1 if result.rowcount else 0  # type: ignore[attr-defined]


def _carry_forward(session: Session, source: str, record_ids: Sequence[str]) -> None:
    """New versions of records retired by an earlier batch keep the record they merged into."""
    unique = sorted(set(record_ids))
    for start in range(0, len(unique), CHUNK):
        rows = session.execute(
            select(SourceRecord.record_id, SourceRecord.merged_into_record_id)
            .where(
                SourceRecord.source == source,
                SourceRecord.record_id.in_(unique[start : start + CHUNK]),
                SourceRecord.merged_into_record_id.is_not(None),
            )
            .distinct()
        ).all()
        for record_id, survivor in rows:
            session.execute(
                update(SourceRecord)
                .where(
                    SourceRecord.source == source,
                    SourceRecord.record_id == record_id,
                    SourceRecord.merged_into_record_id.is_(None),
                )
                .values(merged_into_record_id=survivor)
                .execution_options(synchronize_session=False)
            )
