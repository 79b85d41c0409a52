"""PostgreSQL fast paths for the loader: one round trip per step instead of one per chunk.

Each function works on the session's own connection, so it joins the batch's transaction.
Rows are written with ``COPY ... FROM STDIN`` (psycopg's ``cursor.copy``); lookups and updates
pass their keys as arrays (``= ANY``, ``unnest``) rather than as thousands of parameters.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import JSON, Table
from sqlalchemy.orm import Session

COLUMNS = (
    "source",
    "record_id",
    "version",
    "is_current",
    "agency",
    "batch_id",
    "received_at",
    "content_hash",
    "nhs_number",
    "upn",
    "birth_date",
    "restricted",
    "payload",
)


def _driver(session: Session) -> Any:
    return session.connection().connection.driver_connection


def current_versions(
    session: Session, source: str, record_ids: Sequence[str]
) -> dict[str, tuple[int, str]]:
    with _driver(session).cursor() as cursor:
        cursor.execute(
            "SELECT record_id, version, content_hash FROM source_record"
            " WHERE source = %s AND is_current AND record_id = ANY(%s)",
            (source, list(set(record_ids))),
        )
        return {record_id: (version, digest) for record_id, version, digest in cursor}


def flag_superseded(session: Session, source: str, keys: Iterable[tuple[str, int]]) -> None:
    ordered = sorted(keys)
    if not ordered:
        return
    with _driver(session).cursor() as cursor:
        cursor.execute(
            "UPDATE source_record s SET is_current = false"
            " FROM unnest(%s::text[], %s::int[]) AS k(record_id, version)"
            " WHERE s.source = %s AND s.record_id = k.record_id AND s.version = k.version",
            ([k[0] for k in ordered], [k[1] for k in ordered], source),
        )


def on_postgresql(session: Session) -> bool:
    """Whether the session's database is PostgreSQL (where these bulk paths apply)."""
    return session.get_bind().dialect.name == "postgresql"


def copy_rows(
    session: Session,
    table: str,
    rows: Iterable[Sequence[Any]],
    columns: Sequence[str] = COLUMNS,
) -> None:
    """COPY tuples in ``columns`` order into ``table`` (by default a source record's
    ``COLUMNS``, the payload as JSON text)."""
    statement = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
    with _driver(session).cursor() as cursor, cursor.copy(statement) as copy:
        for row in rows:
            copy.write_row(row)


def copy_dicts(session: Session, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """COPY rows given as dicts, all with the same keys, into ``table``: what an executemany
    INSERT of them stores, JSON columns encoded as SQLAlchemy binds them (``json.dumps``, None
    as JSON null)."""
    if not rows:
        return
    columns = tuple(rows[0])
    encoded = {c for c in columns if isinstance(table.c[c].type, JSON)}

    def values(row: dict[str, Any]) -> tuple[Any, ...]:
        if len(row) != len(columns):
            raise ValueError(f"rows for {table.name} differ in their columns")
        return tuple(json.dumps(row[c]) if c in encoded else row[c] for c in columns)

    copy_rows(session, table.name, map(values, rows), columns)
