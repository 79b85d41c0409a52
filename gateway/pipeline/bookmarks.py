"""Bookmarks of incremental sources, kept by the framework in the index database."""

from __future__ import annotations

from sqlalchemy.orm import Session

from gateway.store.tables import SourceBookmark


def read_bookmark(session: Session, source: str) -> str | None:
    row = session.get(SourceBookmark, source)
    return row.bookmark if row else None


def save_bookmark(session: Session, source: str, bookmark: str) -> None:
    row = session.get(SourceBookmark, source)
    if row is None:
        session.add(SourceBookmark(source=source, bookmark=bookmark))
    else:
        row.bookmark = bookmark
