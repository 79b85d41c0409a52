"""A fingerprint of what the index says, leaving out when it was written.

Two indexes with the same fingerprint hold the same batches and accounting, the same source
records and versions, the same held items, validation results, children and links, whatever
the backend and however often a load was interrupted and repeated. Surrogate ids, timestamps
and the landed file's name (an extract is named by the time it was taken) are left out.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from sqlalchemy import DateTime, Table, select
from sqlalchemy.orm import Session

from gateway.store.tables import Base

TABLES = ("batch", "source_record", "quarantine", "validation_run", "child", "link")
LEFT_OUT = {"id", "file_name"}
_FILE_LINE = re.compile(r"^\S+ (line \d+)$")
TIME_KEYS = {"received_at", "created_at", "updated_at", "decided_at", "linked_at"}


def _content_columns(table: Table) -> list[Any]:
    return [c for c in table.columns if c.name not in LEFT_OUT and not isinstance(c.type, DateTime)]


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items() if k not in TIME_KEYS}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def table_rows(session: Session, name: str) -> list[str]:
    """Each row of one table as canonical JSON, sorted."""
    columns = _content_columns(Base.metadata.tables[name])
    rows = session.execute(select(*columns)).all()
    return sorted(
        json.dumps(
            [_held(c.name, _plain(v)) for c, v in zip(columns, row, strict=True)],
            sort_keys=True,
            default=str,
        )
        for row in rows
    )


def _held(column: str, value: Any) -> Any:
    """A held item's key and payload without the landing file's name and the time it was
    received (both left out of batches too): an extract landed under its extraction time."""
    if column == "item_key" and isinstance(value, str):
        return _FILE_LINE.sub(r"\1", value)
    if column == "payload" and isinstance(value, str) and value.startswith("{"):
        try:
            return _plain(json.loads(value))
        except ValueError:
            return value
    return value


def index_fingerprint(session: Session) -> dict[str, str]:
    """Per table, a SHA-256 of its content (row order and timestamps left out)."""
    out = {}
    for name in TABLES:
        digest = hashlib.sha256()
        for line in table_rows(session, name):
            digest.update(line.encode() + b"\n")
        out[name] = digest.hexdigest()
    return out
