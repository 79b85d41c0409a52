"""A child's summary on PostgreSQL, on the event loop, in two statements and two round trips.

The API's busiest request is a lookup by child id that an agreement allows, for a purpose that
needs no consent. ``AsyncLookups`` answers it as ``disclose`` would, with the same decision, the
same minimised answer (``disclosure.minimised``) and the same audit entry; on autocommit
connections from psycopg's async pool on the event loop: no worker thread, no ORM, no BEGIN or
COMMIT exchanges.

The first statement reads the child, its stored restricted verdict, its current linked records
and what is held back about it, with the read model's own queries. The answer is built from
them (the policy point's ``minimised``), and its audit entry, which carries the answer's digest
(``disclosure.answer_digest``: what a replay is compared with), is appended by the second
statement, the audit log's own append on a free chain head. The answer leaves only after that
statement, and so its transaction, has committed. (Until the digest, one statement did both,
writing whichever of the two entries the verdict chose; an entry that names the values shown
cannot be chosen before they are read.)

Everything else (a child not found or merged into another, refusals, consent, break-glass,
identifiers other than the child id) is left to the caller's ordinary path, which records it:
``lookup`` returns None.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import make_url

from gateway.access.agreements import SharingDecision
from gateway.access.audit import (
    Actor,
    AuditEvent,
    AuditUnavailableError,
    Lock,
    append_ctes,
    postgresql_parameters,
)
from gateway.access.purposes import Purpose
from gateway.model import CanonicalRecord
from gateway.policy.disclosure import Disclosure, minimised
from gateway.read_model import (
    CHILD_WITH_RECORDS,
    FoundChild,
    OpenReview,
    held_day,
    held_of_found,
    held_record,
    notices_of,
    open_reviews_of_found,
)

_DIALECT = postgresql.psycopg.dialect()
_CHILD_ROWS = CHILD_WITH_RECORDS.compile(dialect=_DIALECT)
# The statement's name for the child's rows, with the read model's columns.
_FOUND = sa.table(
    "found", *(sa.column(c.name, c.type) for c in CHILD_WITH_RECORDS.selected_columns)
)


def _compiled(query: Any) -> str:
    """A read model query over ``found`` as SQL text (its constants inline)."""
    return str(query.compile(dialect=_DIALECT, compile_kwargs={"literal_binds": True}))


_HELD_ROWS = _compiled(held_of_found(_FOUND))
_REVIEW_ROWS = _compiled(open_reviews_of_found(_FOUND))

# The child's restricted verdict (one row, no marker), then one row per record (marker 'record':
# its payload as JSON text), per held record carrying one of its identifiers (marker 'held':
# payload and the time it was held) and per open review pair touching its records (marker
# 'review': the pair's records and the time it was opened); no rows if no unmerged child has the
# id. (The first row's NULLs are typed: PostgreSQL types a column of a UNION from its first two
# branches.) Built from the read model's query of a child (``read_model.CHILD_WITH_RECORDS``,
# compiled for PostgreSQL) and its queries of what is held back about a child found by it
# (``read_model.held_of_found``, ``open_reviews_of_found``): no SQL of its own but the glue.
_READ = f"""
    WITH found AS ({_CHILD_ROWS}),
    verdict AS (
        SELECT restricted FROM found WHERE merged_into IS NULL LIMIT 1
    ),
    held AS ({_HELD_ROWS}),
    reviews AS ({_REVIEW_ROWS})
    SELECT verdict.restricted, NULL::text, NULL::text,
        NULL::timestamptz, NULL::text, NULL::text, NULL::text, NULL::text FROM verdict
    UNION ALL
    SELECT NULL, 'record', payload, NULL, NULL, NULL, NULL, NULL
    FROM found WHERE merged_into IS NULL AND payload IS NOT NULL
    UNION ALL
    SELECT NULL, 'held', payload, since, NULL, NULL, NULL, NULL FROM held
    UNION ALL
    SELECT NULL, 'review', NULL, since,
        left_source, left_record_id, right_source, right_record_id FROM reviews
    """  # noqa: S608 (the text put in is built from constants only)


def _placeholder(name: str) -> str:
    return f"%({name})s"


def _append(lock: Lock) -> str:
    """The audit log's own append (``audit.append_ctes``), with psycopg's placeholders."""
    return f"WITH {append_ctes(lock, _placeholder)} SELECT seq FROM entry"  # noqa: S608


# A head no other transaction holds; else (every head taken: nothing written) one to wait for.
_ON_A_FREE_CHAIN = _append("FOR UPDATE SKIP LOCKED")
_WAITING = _append("FOR UPDATE")


def psycopg_conninfo(url: str) -> str:
    """A SQLAlchemy URL (``postgresql+psycopg://...``) as a libpq connection string."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


class AsyncLookups:
    """A pool of async autocommit connections (opened on first use, on the running event
    loop) and the one lookup it serves."""

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
            self._conninfo,
            min_size=1,
            max_size=self._size,
            open=False,
            name="async-lookups",
            kwargs={"autocommit": True},  # each statement its own transaction
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
        """The allowed child's minimised summary, its audit entry (with the answer's digest)
        committed before it is returned; None if no unmerged child has this id (nothing
        written: the caller's path decides)."""
        at = datetime.now(UTC).replace(microsecond=0)
        pool = await self._pool()
        async with pool.connection() as conn:
            rows = await (await conn.execute(_READ, _read_parameters(child_id))).fetchall()
            if not rows:
                return None
            disclosure, event = _answer(actor, purpose, child_id, decision, rows)
            parameters = postgresql_parameters(event, at)
            seq = await (await conn.execute(_ON_A_FREE_CHAIN, parameters)).fetchone()
            if seq is None:  # every chain head was taken: nothing written
                seq = await (await conn.execute(_WAITING, parameters)).fetchone()
        if seq is None:
            raise AuditUnavailableError(
                "the audit chain has no head row (run `ehe-gateway db upgrade`)"
            )
        return disclosure


def _answer(
    actor: Actor,
    purpose: Purpose,
    child_id: str,
    decision: SharingDecision,
    rows: list[tuple[Any, ...]],
) -> tuple[Disclosure, AuditEvent]:
    """The answer and its audit entry from the rows read, as ``disclose`` makes them."""
    restricted = next(bool(r[0]) for r in rows if r[1] is None)
    records = [CanonicalRecord.model_validate_json(r[2]) for r in rows if r[1] == "record"]
    held = (held_record(r[2], r[3]) for r in rows if r[1] == "held")
    reviews = [
        OpenReview((r[4], r[5]), (r[6], r[7]), held_day(r[3])) for r in rows if r[1] == "review"
    ]
    # What is held back about the child, decided as the read model decides it.
    notices = notices_of({child_id: records}, [h for h in held if h], reviews)
    # The read model's stored verdict.
    child = FoundChild(child_id, restricted, records, tuple(notices.get(child_id, ())))
    return minimised(actor, purpose, child, records, decision=decision)


def _read_parameters(child_id: str) -> dict[str, Any]:
    return {**_CHILD_ROWS.params, "child_id": child_id}
