"""Source records: every version of every agency record, never overwritten."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Index, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from gateway.store.tables.base import Base


class SourceRecord(Base):
    __tablename__ = "source_record"
    __table_args__ = (
        UniqueConstraint("source", "record_id", "version", name="uq_source_record_version"),
        Index("ix_source_record_current", "source", "record_id", "is_current"),
        # The few records an A40 merge retired: each incremental link run reads them all, and
        # a partial index keeps that from scanning every record.
        Index(
            "ix_source_record_merged",
            "source",
            "record_id",
            "merged_into_record_id",
            sqlite_where=text("merged_into_record_id IS NOT NULL"),
            postgresql_where=text("merged_into_record_id IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(80))
    record_id: Mapped[str] = mapped_column(String(120))
    version: Mapped[int]
    is_current: Mapped[bool]
    agency: Mapped[str] = mapped_column(String(20))
    batch_id: Mapped[str] = mapped_column(String(80), index=True)
    received_at: Mapped[datetime]
    content_hash: Mapped[str] = mapped_column(String(64))
    # Identifiers that linkage and lookup search on: only valid ones are stored here.
    nhs_number: Mapped[str | None] = mapped_column(String(10), index=True)
    upn: Mapped[str | None] = mapped_column(String(13), index=True)
    birth_date: Mapped[date | None] = mapped_column(index=True)
    restricted: Mapped[bool] = mapped_column(default=False)
    payload: Mapped[dict]
    # Set on every version of a record its source retired by merging it into another (HL7 A40):
    # the record and its versions stay; linkage puts it with the record it was merged into.
    merged_into_record_id: Mapped[str | None] = mapped_column(String(120))
