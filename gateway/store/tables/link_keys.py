"""Linkage's own index: each linked record's blocking keys, and where the last link run ended.

``link_key`` lets an incremental link run find a new record's candidate neighbours by an indexed
lookup instead of reading the whole population; ``link_mark`` holds the highest source record
row linked so far and the model that linked it (a new model means a full re-link).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from gateway.store.tables.base import Base, utcnow


class LinkKey(Base):
    __tablename__ = "link_key"
    __table_args__ = (Index("ix_link_key_record", "source", "record_id"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(300), index=True)
    source: Mapped[str] = mapped_column(String(80))
    record_id: Mapped[str] = mapped_column(String(120))


class LinkMark(Base):
    __tablename__ = "link_mark"

    id: Mapped[int] = mapped_column(primary_key=True)
    last_source_row: Mapped[int]
    model: Mapped[str] = mapped_column(String(80))
    linked_at: Mapped[datetime] = mapped_column(default=utcnow)
