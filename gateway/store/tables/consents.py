"""Consent, recorded apart from lawful basis: who gave it, for what scope, and any withdrawal."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from gateway.store.tables.base import Base, utcnow


class Consent(Base):
    __tablename__ = "consent"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    child_id: Mapped[str] = mapped_column(String(40), index=True)
    # The purpose code the consent covers (for example ``voluntary_support``).
    scope: Mapped[str] = mapped_column(String(60))
    given_at: Mapped[datetime] = mapped_column(default=utcnow)
    recorded_by: Mapped[str] = mapped_column(String(120))
    withdrawn_at: Mapped[datetime | None]
    withdrawn_recorded_by: Mapped[str | None] = mapped_column(String(120))
