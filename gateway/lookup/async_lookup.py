"""A child's summary on PostgreSQL, on the event loop, without the ORM or a worker thread.

The API's busiest request is a lookup by child id that an agreement allows, for a purpose that
needs no consent. ``AsyncLookups`` answers it as ``disclose`` would, with the same decision and
the same minimised answer (``disclosure.minimised``), and writes the same audit entry
(``audit.append``'s statement) in the same transaction as the read, on psycopg's async
connections: BEGIN, the read (one query), the entry, COMMIT. The answer leaves only after the
commit. (psycopg's pipeline mode, sending BEGIN with the read and the entry with COMMIT, cost
more CPU in the client and the server than the two round trips it saved.)

Everything else (a child not found, refusals, consent, break-glass, identifiers other than the
child id) is left to the caller's ordinary path, which records it: ``lookup`` returns None.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool
from sqlalchemy.dialects.postgresql import psycopg as psycopg_dialect
from sqlalchemy.engine import make_url
from sqlalchemy.sql import ClauseElement

from gateway.access.agreements import SharingDecision
from gateway.access.audit import (
    APPEND_ON_A_FREE_CHAIN,
    APPEND_WAITING,
    Actor,
    AuditUnavailableError,
    postgresql_parameters,
)
from gateway.access.purposes import Purpose
from gateway.lookup.disclosure import Disclosure, minimised
from gateway.lookup.summary import CHILD_WITH_RECORDS, FoundChild
from gateway.model import CanonicalRecord

_DIALECT = psycopg_dialect.dialect()


def _compiled(statement: ClauseElement) -> tuple[str, dict[str, Any]]:
    """The statement's SQL for psycopg (``%(name)s`` placeholders) and its fixed parameters."""
    compiled = statement.compile(dialect=_DIALECT)
    return str(compiled), dict(compiled.params)


_READ, _READ_FIXED = _compiled(CHILD_WITH_RECORDS)
_APPEND_FREE, _ = _compiled(APPEND_ON_A_FREE_CHAIN)
_APPEND_WAIT, _ = _compiled(APPEND_WAITING)


def psycopg_conninfo(url: str) -> str:
    """A SQLAlchemy URL (``postgresql+psycopg://...``) as a libpq connection string."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


class AsyncLookups:
    """A pool of async connections (opened on first use, on the running event loop) and the
    one lookup it serves."""

    def __init__(self, url: str, size: int) -> None:
        self._conninfo = psycopg_conninfo(url)
        self._size = size
        self._loop: asyncio.AbstractEventLoop | None = None
        self._opening: asyncio.Future[AsyncConnectionPool[AsyncConnection[Any]]] | None = None

    async def _pool(self) -> AsyncConnectionPool[AsyncConnection[Any]]:
        loop = asyncio.get_running_loop()
        if self._opening is None or self._loop is not loop:  # first use (tests start new loops)
            self._loop = loop
            self._opening = asyncio.ensure_future(self._open())
        return await self._opening

    async def _open(self) -> AsyncConnectionPool[AsyncConnection[Any]]:
        pool: AsyncConnectionPool[AsyncConnection[Any]] = AsyncConnectionPool(
            self._conninfo, min_size=1, max_size=self._size, open=False, name="async-lookups"
        )
        await pool.open()
        return pool

    async def close(self) -> None:
        if self._opening is not None and self._loop is asyncio.get_running_loop():
            pool = await self._opening
            await pool.close()
        self._opening = None

    async def lookup(
        self, actor: Actor, purpose: Purpose, child_id: str, decision: SharingDecision
    ) -> Disclosure | None:
        """The allowed child's minimised summary, its audit entry committed; None if no child
        has this id (nothing written: the caller records the refusal)."""
        pool = await self._pool()
        async with pool.connection() as conn:  # commits at the end of the block, if no error
            child = await _child_with_records(conn, child_id)
            if child is None:
                await conn.rollback()
                return None
            disclosure, event = minimised(actor, purpose, child, child.records, decision=decision)
            parameters = postgresql_parameters(event, datetime.now(UTC).replace(microsecond=0))
            appended = await conn.execute(_APPEND_FREE, parameters)
            if await appended.fetchone() is None:  # every chain head is taken: wait for one
                appended = await conn.execute(_APPEND_WAIT, parameters)
                if await appended.fetchone() is None:
                    raise AuditUnavailableError(
                        "the audit chain has no head row (run `ehe-gateway db upgrade`)"
                    )
        return disclosure  # only once its audit entry is committed


async def _child_with_records(conn: AsyncConnection[Any], child_id: str) -> FoundChild | None:
    """As ``summary.child_with_records``: the child, following merges, with its records."""
    wanted, seen = child_id, set()
    while True:
        cursor = await conn.execute(_READ, {**_READ_FIXED, "child_id": wanted})
        rows = await cursor.fetchall()
        if not rows:
            return None
        found, restricted, merged_into, _ = rows[0]
        if merged_into and found not in seen:
            seen.add(found)
            wanted = merged_into
            continue
        records = [CanonicalRecord.model_validate_json(r[3]) for r in rows if r[3] is not None]
        return FoundChild(found, bool(restricted), records)
