"""Possible matches waiting for a person: pairs that scored between the two thresholds."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from gateway.store.tables.base import Base, utcnow

REVIEW_STATUSES = ("open", "accepted", "rejected")


class LinkReview(Base):
    __tablename__ = "link_review"
    __table_args__ = (
        UniqueConstraint(
            "left_source",
            "left_record_id",
            "right_source",
            "right_record_id",
            name="uq_link_review_pair",
        ),
        CheckConstraint(f"status IN {REVIEW_STATUSES}", name="status"),
        # The pairs touching a record from either side (a child's notices): the unique
        # constraint serves the left side, this the right.
        Index("ix_link_review_right", "right_source", "right_record_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    left_source: Mapped[str] = mapped_column(String(80))
    left_record_id: Mapped[str] = mapped_column(String(120))
    right_source: Mapped[str] = mapped_column(String(80))
    right_record_id: Mapped[str] = mapped_column(String(120))
    probability: Mapped[float]
    match_weights: Mapped[dict]
    model: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(16), default="open", index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Why linkage queued the pair rather than joining it, when an identifier both records
    # share is contradicted by their demographics (e.g. "NHS number shared; different
    # forenames"): names of fields, never their values.
    conflict: Mapped[str | None] = mapped_column(String(200), default=None)
    # A reviewer's decision (MANUAL: the matcher and retraining never change it).
    decided_by: Mapped[str | None] = mapped_column(String(120))
    decided_at: Mapped[datetime | None]
    reason: Mapped[str | None] = mapped_column(String(500))
    # Four eyes: accepting a twin-shaped or conflicting pair takes two reviewers. The first
    # accept is kept here (the pair stays open, "awaiting a second reviewer"); a different
    # reviewer completes it (``decided_by``). Both stay recorded once it is accepted.
    first_accepted_by: Mapped[str | None] = mapped_column(String(120), default=None)
    first_accepted_at: Mapped[datetime | None] = mapped_column(default=None)
    first_reason: Mapped[str | None] = mapped_column(String(500), default=None)
