"""Link history: every change to a link or a child, with what was there before.

The ``link`` row holds the present; this table holds how it came to be (link, relink, unlink,
merge, split, a reviewer's accept or reject, and their reversal), each with its evidence.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, String
from sqlalchemy.orm import Mapped, mapped_column

from gateway.store.tables.base import Base, utcnow

LINK_ACTIONS = ("link", "relink", "merge", "unmerge", "accept", "reject", "reopen")


class LinkEvent(Base):
    __tablename__ = "link_event"
    __table_args__ = (CheckConstraint(f"action IN {LINK_ACTIONS}", name="action"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    action: Mapped[str] = mapped_column(String(16))
    source: Mapped[str | None] = mapped_column(String(80))
    record_id: Mapped[str | None] = mapped_column(String(120))
    # for a link: the child before and after; for a merge: the retired and the surviving child
    child_before: Mapped[str | None] = mapped_column(String(40), index=True)
    child_after: Mapped[str | None] = mapped_column(String(40), index=True)
    origin: Mapped[str | None] = mapped_column(String(8))
    rule: Mapped[str | None] = mapped_column(String(40))
    evidence: Mapped[dict]
    review_id: Mapped[int | None] = mapped_column(index=True)
    actor: Mapped[str | None] = mapped_column(String(120))
