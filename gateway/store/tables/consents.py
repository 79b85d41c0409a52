"""Consent, recorded apart from lawful basis, with its evidence: who gave it (their relation
to the child), when, how, a reference to where the evidence is kept, and who recorded it; and
any withdrawal. Entries made before the evidence was required (revision 0021) have none."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, String
from sqlalchemy.orm import Mapped, mapped_column

from gateway.store.tables.base import Base, utcnow

# Who gave the consent, as their relation to the child (never their name).
CONSENT_GIVERS = ("parent", "carer", "young_person")
# How it was given.
CONSENT_METHODS = ("written", "verbal", "electronic")


class Consent(Base):
    __tablename__ = "consent"
    __table_args__ = (
        CheckConstraint(f"given_by IN {CONSENT_GIVERS}", name="given_by"),
        CheckConstraint(f"method IN {CONSENT_METHODS}", name="method"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    child_id: Mapped[str] = mapped_column(String(40), index=True)
    # The purpose code the consent covers (for example ``voluntary_support``).
    scope: Mapped[str] = mapped_column(String(60))
    given_by: Mapped[str | None] = mapped_column(String(20))
    given_on: Mapped[date | None]
    method: Mapped[str | None] = mapped_column(String(20))
    # Where the evidence is kept (a document or case-note reference), not the evidence itself.
    evidence_ref: Mapped[str | None] = mapped_column(String(200))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
    recorded_by: Mapped[str] = mapped_column(String(120))
    recorded_by_organisation: Mapped[str | None] = mapped_column(String(120))
    recorded_by_role: Mapped[str | None] = mapped_column(String(40))
    withdrawn_at: Mapped[datetime | None]
    withdrawn_recorded_by: Mapped[str | None] = mapped_column(String(120))
