"""The audit log: append-only, each entry hashing the one before it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from gateway.store.tables.base import Base


class AuditEntry(Base):
    __tablename__ = "audit_log"

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
    prev_hash: Mapped[str] = mapped_column(String(64))
    entry_hash: Mapped[str] = mapped_column(String(64), unique=True)


class AuditHead(Base):
    """The end of the chain (one row), so that on PostgreSQL one statement can both lock the
    chain and extend it: the row lock orders concurrent appends, and ``UPDATE`` sees the
    newest head once the writer before it commits."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    prev_hash: Mapped[str] = mapped_column(String(64))
    entry_hash: Mapped[str] = mapped_column(String(64))
