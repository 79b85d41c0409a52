"""Records that were not loaded: quarantined (failed validation) or rejected (unreadable), and
the identifiers of those held by validation."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    Connection,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
    event,
    insert,
)
from sqlalchemy.orm import Mapped, Mapper, mapped_column

from gateway.model import CanonicalRecord
from gateway.store.tables.base import Base, utcnow

STAGES = ("connector", "mapping", "validation")
STATUSES = ("quarantined", "rejected", "released")


class HeldRecord(Base):
    __tablename__ = "quarantine"
    __table_args__ = (
        UniqueConstraint("batch_id", "item_key", name="uq_quarantine_item"),
        CheckConstraint(f"stage IN {STAGES}", name="stage"),
        CheckConstraint(f"status IN {STATUSES}", name="status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    batch_id: Mapped[str] = mapped_column(String(80), index=True)
    source: Mapped[str] = mapped_column(String(80), index=True)
    # The record id where one could be read, else the position in the file.
    item_key: Mapped[str] = mapped_column(String(160))
    stage: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    reasons: Mapped[list]
    payload: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class HeldIdentifier(Base):
    """The identifiers a record held by validation carries (its valid NHS number, valid UPN
    and local ids: the keys ``read_model`` matches a child by), so the records held about a
    child are found by an indexed lookup instead of a scan of every held payload.

    Written once, when the record is held (``store.loader.hold_items``; a row added through the
    ORM by the hook below), from its payload, which never changes afterwards; whether the record
    is still held is its ``status``, read through the join, so a release or a rejection needs
    no write here. Migration 0023 wrote the rows of the records held before it."""

    __tablename__ = "quarantine_identifier"
    __table_args__ = (Index("ix_quarantine_identifier_key", "kind", "value"),)

    held_id: Mapped[int] = mapped_column(
        ForeignKey("quarantine.id", ondelete="CASCADE"), primary_key=True
    )
    kind: Mapped[str] = mapped_column(String(90), primary_key=True)  # nhs, upn, local:<name>
    value: Mapped[str] = mapped_column(Text, primary_key=True)


INDEXED_STAGE = "validation"


def held_identifier_rows(held_id: int, stage: str, payload: str | None) -> list[dict[str, Any]]:
    """The index rows of one held record: one per identifier key of its payload (the read
    model's keys, ``ChildIdentity.identifier_keys``), if it was held by validation and is a
    canonical record; a record held before it could be mapped carries no keys to trust."""
    if stage != INDEXED_STAGE or not payload:
        return []
    try:
        record = CanonicalRecord.model_validate_json(payload)
    except ValueError:
        return []
    return [
        {"held_id": held_id, "kind": kind, "value": value}
        for kind, value in sorted(record.identity.identifier_keys())
    ]


@event.listens_for(HeldRecord, "after_insert")
def _index_held(_mapper: Mapper[HeldRecord], connection: Connection, row: HeldRecord) -> None:
    """A held record added through the ORM (``session.add``) is indexed as it is inserted."""
    keys = held_identifier_rows(row.id, row.stage, row.payload)
    if keys:
        connection.execute(insert(HeldIdentifier), keys)
