"""Children and the links that join source records to them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from gateway.store.tables.base import Base, utcnow

LINK_STATES = ("MATCH", "POSSIBLE_MATCH", "NO_MATCH")
LINK_ORIGINS = ("AUTO", "MANUAL")


class Child(Base):
    __tablename__ = "child"

    child_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    restricted: Mapped[bool] = mapped_column(default=False)
    # A merged child keeps its row and redirects to the survivor.
    merged_into: Mapped[str | None] = mapped_column(String(40))


class Link(Base):
    """A source record links to at most one child: the key is the source record."""

    __tablename__ = "link"
    __table_args__ = (
        CheckConstraint(f"state IN {LINK_STATES}", name="state"),
        CheckConstraint(f"origin IN {LINK_ORIGINS}", name="origin"),
    )

    source: Mapped[str] = mapped_column(String(80), primary_key=True)
    record_id: Mapped[str] = mapped_column(String(120), primary_key=True)
    child_id: Mapped[str] = mapped_column(ForeignKey("child.child_id"), index=True)
    state: Mapped[str] = mapped_column(String(16))
    origin: Mapped[str] = mapped_column(String(8))
    rule: Mapped[str] = mapped_column(String(40))
    evidence: Mapped[dict]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
