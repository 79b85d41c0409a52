"""The audit log: append-only, each entry hashing the one before it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import SmallInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from gateway.store.tables.base import Base


class AuditEntry(Base):
    __tablename__ = "audit_log"
    # SQLite reuses the largest rowid once its row is deleted; AUTOINCREMENT never does, so a
    # deleted newest entry leaves a gap (PostgreSQL's sequence never goes back either).
    __table_args__ = {"sqlite_autoincrement": True}

    seq: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(120))
    organisation: Mapped[str] = mapped_column(String(120))
    role: Mapped[str] = mapped_column(String(40))
    action: Mapped[str] = mapped_column(String(40))
    purpose: Mapped[str | None] = mapped_column(String(60))
    lawful_basis: Mapped[str | None] = mapped_column(String(200))
    child_id: Mapped[str | None] = mapped_column(String(40), index=True)
    fields_disclosed: Mapped[list]
    fields_refused: Mapped[list]
    outcome: Mapped[str] = mapped_column(String(20))
    # The agreement clause that allowed (or did not cover) the answer, and why, if refused.
    agreement_clause: Mapped[str | None] = mapped_column(String(120))
    reason: Mapped[str | None] = mapped_column(String(300))
    # SHA-256 of the answer shown (a lookup's minimised summary, canonical JSON): what a replay
    # of the lookup is compared with. Covered by the entry's hash when present.
    answer_digest: Mapped[str | None] = mapped_column(String(64))
    # Which of the log's hash chains the entry is on (its head is ``audit_head.id``).
    chain: Mapped[int] = mapped_column(SmallInteger, server_default="1")
    prev_hash: Mapped[str] = mapped_column(String(64))
    entry_hash: Mapped[str] = mapped_column(String(64), unique=True)


class AuditHead(Base):
    """The end of one chain (a row each), so that on PostgreSQL one statement can both lock a
    chain and extend it: the row lock orders appends to that chain, and ``UPDATE`` sees the
    newest head once the writer before it commits. Concurrent appends take different heads."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    prev_hash: Mapped[str] = mapped_column(String(64))
    entry_hash: Mapped[str] = mapped_column(String(64))
