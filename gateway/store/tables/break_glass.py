"""Break-glass overrides: time-limited, with a typed reason, each on the IG review list."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from gateway.store.tables.base import Base, utcnow

BREAK_GLASS_REVIEW_STATES = ("open", "closed")


class BreakGlass(Base):
    __tablename__ = "break_glass"
    __table_args__ = (
        CheckConstraint(f"review_state IN {BREAK_GLASS_REVIEW_STATES}", name="state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    actor: Mapped[str] = mapped_column(String(120))
    organisation: Mapped[str] = mapped_column(String(120))
    role: Mapped[str] = mapped_column(String(40))
    child_id: Mapped[str] = mapped_column(String(40), index=True)
    purpose: Mapped[str] = mapped_column(String(60))
    reason: Mapped[str] = mapped_column(Text)
    opened_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    review_state: Mapped[str] = mapped_column(String(16), default="open", index=True)
    reviewed_by: Mapped[str | None] = mapped_column(String(120))
    reviewed_at: Mapped[datetime | None]
    review_note: Mapped[str | None] = mapped_column(Text)
