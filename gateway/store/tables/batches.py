"""Batches: one received file (or extract) of one source, with its accounting.

received = loaded + quarantined + rejected + not_read + gated + pending. ``not_read`` counts the
items a file held that are not records of its stream (a FHIR resource other than a Patient, a
row of an SSDA903 table that describes no child): kept in the landed file, not read, named by
kind in ``not_read_kinds``. ``gated`` and ``pending`` are decided here, once, for every view.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from gateway.store.batch_status import HELD_WHOLE, LOADED
from gateway.store.tables.base import Base, utcnow


class Batch(Base):
    __tablename__ = "batch"

    batch_id: Mapped[str] = mapped_column(String(80), primary_key=True)
    source: Mapped[str] = mapped_column(String(80), index=True)
    file_name: Mapped[str] = mapped_column(String(255))
    sha256: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int]
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    status: Mapped[str] = mapped_column(String(20), default="landed")
    received: Mapped[int] = mapped_column(default=0)
    loaded: Mapped[int] = mapped_column(default=0)
    quarantined: Mapped[int] = mapped_column(default=0)
    rejected: Mapped[int] = mapped_column(default=0)
    not_read: Mapped[int] = mapped_column(default=0, server_default="0")
    not_read_kinds: Mapped[dict | None] = mapped_column(default=None)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    @property
    def records_received(self) -> int:
        """Items received that are records of the stream (read, or held as unreadable)."""
        return max(self.received - self.not_read, 0)

    @property
    def gated(self) -> int:
        """The records of a batch held whole by a gate (what it kept not read stays not read)."""
        return self.records_received if self.status in HELD_WHOLE else 0

    @property
    def pending(self) -> int:
        """The records of a batch not yet loaded or gated (landed, staged, or failed)."""
        if self.status in HELD_WHOLE or self.status == LOADED:
            return 0
        return max(self.records_received - self.loaded - self.quarantined - self.rejected, 0)
