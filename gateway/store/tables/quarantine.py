"""Records that were not loaded: quarantined (failed validation) or rejected (unreadable)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

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
