"""What each validation run checked, and its full result."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from gateway.store.tables.base import Base, utcnow


class ValidationRun(Base):
    __tablename__ = "validation_run"
    __table_args__ = (UniqueConstraint("batch_id", "suite", name="uq_validation_run_batch"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    batch_id: Mapped[str] = mapped_column(String(80))
    suite: Mapped[str] = mapped_column(String(80))
    records_checked: Mapped[int]
    records_failed: Mapped[int]
    success: Mapped[bool]
    # Per expectation: type, column, severity, failed count.
    summary: Mapped[list]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
