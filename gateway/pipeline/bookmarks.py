"""Bookmarks of incremental sources, kept by the framework in the index database."""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.orm import Session

from gateway.store.engine import insert_if_absent
from gateway.store.tables import SourceBookmark


def read_bookmark(session: Session, source: str) -> str | None:
    row = session.get(SourceBookmark, source)
    return row.bookmark if row else None


def save_bookmark(session: Session, source: str, bookmark: str) -> None:
    """Insert or move the bookmark (two runs saving it at once both succeed)."""
    insert_if_absent(session, SourceBookmark, {"source": source, "bookmark": bookmark})
    session.execute(
        update(SourceBookmark).where(SourceBookmark.source == source).values(bookmark=bookmark)
    )
