"""Signed-out sessions: the denylist every API worker reads, so sign-out ends a session for all.

A row holds a session's key (SHA-256 of its issuer and session id, never a token), when it was
revoked and when its last token expires anyway (after which the row may be purged). Looked up
by primary key: one indexed read per check (``gateway.access.sessions``).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from gateway.store.tables.base import Base, utcnow


class RevokedSession(Base):
    __tablename__ = "revoked_session"

    session_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    revoked_at: Mapped[datetime] = mapped_column(default=utcnow)
    # After this, every token of the session has expired: the row is no longer needed.
    expires_at: Mapped[datetime] = mapped_column(index=True)
    # Why: sign_out (the person), or admin (revoked for them).
    reason: Mapped[str] = mapped_column(String(20))
