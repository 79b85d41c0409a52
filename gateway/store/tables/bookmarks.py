"""Where each incremental source got to: the framework keeps bookmarks, not the connector."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from gateway.store.tables.base import Base, utcnow


class SourceBookmark(Base):
    __tablename__ = "source_bookmark"

    source: Mapped[str] = mapped_column(String(80), primary_key=True)
    # Text: a connector's bookmark may carry more than an instant (the FHIR API's holds the
    # resource versions read at its instant).
    bookmark: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
