"""A child's summary on PostgreSQL, on the event loop, in one statement and one round trip.

The API's busiest request is a lookup by child id that an agreement allows, for a purpose that
needs no consent. ``AsyncLookups`` answers it as ``disclose`` would, with the same decision, the
same minimised answer (``disclosure.minimised``) and the same audit entry; but as one statement
on an autocommit connection (one statement, one transaction), from psycopg's async pool on the
event loop: no worker thread, no ORM, no BEGIN or COMMIT exchanges.

The statement reads the child, its stored restricted verdict and its current linked records
with the read model's own query, and appends the audit entry for that verdict on a free chain
head with the audit log's own append: the entry of a lookup depends on the data only through
that verdict (``disclosure.lookup_event``), so both candidate entries are made here and the
statement keeps one. The answer is then built from the records and the same verdict, and
leaves only after the statement, and so its transaction, has committed.

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
    AuditUnavailableError,
    Lock,
    append_ctes,
    postgresql_parameters,
)
from gateway.access.purposes import Purpose
from gateway.model import CanonicalRecord
from gateway.policy.disclosure import Disclosure, lookup_event, minimised
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
_VARIANT_COLUMNS = ("body", "fields_disclosed", "fields_refused", "outcome")


def _placeholder(name: str) -> str:
    return f"%({name})s"


def _by_verdict(name: str) -> str:
    """A column whose value depends on the verdict: both versions are parameters."""
    if name not in _VARIANT_COLUMNS:
        return _placeholder(name)
    restricted, open_ = _placeholder("r_" + name), _placeholder("o_" + name)
    return f"CASE WHEN verdict.restricted THEN {restricted} ELSE {open_} END"


def _read_and_append(lock: Lock) -> str:
    """The child's restricted verdict and the new entry's ``seq`` (one row, no marker), then one
    row per record (marker 'record': its payload as JSON text), per held record carrying one of
    its identifiers (marker 'held': payload and the time it was held) and per open review pair
    touching its records (marker 'review': the pair's records and the time it was opened); no
    rows if no unmerged child has the id. (The first row's NULLs are typed: PostgreSQL types a
    column of a UNION from its first two branches.)

    Built from the read model's query of a child (``read_model.CHILD_WITH_RECORDS``, compiled
    for PostgreSQL), its queries of what is held back about a child found by it
    (``read_model.held_of_found``, ``open_reviews_of_found``) and the audit log's append
    (``audit.append_ctes``): no SQL of its own but the glue."""
    appended = append_ctes(lock, _placeholder, value=_by_verdict, after="verdict")
    return f"""
    WITH found AS ({_CHILD_ROWS}),
    verdict AS (
        SELECT restricted FROM found WHERE merged_into IS NULL LIMIT 1
    ),
    held AS ({_HELD_ROWS}),
    reviews AS ({_REVIEW_ROWS}),
    {appended}
    SELECT verdict.restricted, (SELECT seq FROM entry), NULL::text, NULL::text,
        NULL::timestamptz, NULL::text, NULL::text, NULL::text, NULL::text FROM verdict
    UNION ALL
    SELECT NULL, NULL, 'record', payload, NULL, NULL, NULL, NULL, NULL
    FROM found WHERE merged_into IS NULL AND payload IS NOT NULL
    UNION ALL
    SELECT NULL, NULL, 'held', payload, since, NULL, NULL, NULL, NULL FROM held
    UNION ALL
    SELECT NULL, NULL, 'review', NULL, since,
        left_source, left_record_id, right_source, right_record_id FROM reviews
    """  # noqa: S608 (the text put in is built from constants only)


# A head no other transaction holds; else (every head taken: nothing written) one to wait for.
_ON_A_FREE_CHAIN = _read_and_append("FOR UPDATE SKIP LOCKED")
_WAITING = _read_and_append("FOR UPDATE")


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
        """The allowed child's minimised summary, its audit entry committed with the read;
        None if no unmerged child has this id (nothing written: the caller's path decides)."""
        parameters = _parameters(actor, purpose, child_id, decision)
        pool = await self._pool()
        async with pool.connection() as conn:
            rows = await (await conn.execute(_ON_A_FREE_CHAIN, parameters)).fetchall()
            if rows and _seq(rows) is None:  # every chain head was taken: nothing written
                rows = await (await conn.execute(_WAITING, parameters)).fetchall()
        if not rows:
            return None
        if _seq(rows) is None:
            raise AuditUnavailableError(
                "the audit chain has no head row (run `ehe-gateway db upgrade`)"
            )
        restricted = next(bool(r[0]) for r in rows if r[2] is None)
        records = [CanonicalRecord.model_validate_json(r[3]) for r in rows if r[2] == "record"]
        held = (held_record(r[3], r[4]) for r in rows if r[2] == "held")
        reviews = [
            OpenReview((r[5], r[6]), (r[7], r[8]), held_day(r[4])) for r in rows if r[2] == "review"
        ]
        # What is held back about the child, decided as the read model decides it.
        notices = notices_of({child_id: records}, [h for h in held if h], reviews)
        # The read model's stored verdict, the one the entry written was chosen by.
        child = FoundChild(child_id, restricted, records, tuple(notices.get(child_id, ())))
        disclosure, _ = minimised(actor, purpose, child, records, decision=decision)
        return disclosure


def _seq(rows: list[tuple[Any, ...]]) -> int | None:
    return next((r[1] for r in rows if r[2] is None), None)


def _parameters(
    actor: Actor, purpose: Purpose, child_id: str, decision: SharingDecision
) -> dict[str, Any]:
    """The statement's parameters: the entry's columns, and those that depend on whether the
    child is restricted in both versions (``o_`` open, ``r_`` restricted)."""
    at = datetime.now(UTC).replace(microsecond=0)
    versions = {
        restricted: postgresql_parameters(
            lookup_event(actor, purpose, child_id, decision=decision, restricted=restricted), at
        )
        for restricted in (False, True)
    }
    parameters = {**_CHILD_ROWS.params, **versions[False]}
    for column in _VARIANT_COLUMNS:
        del parameters[column]
        parameters["o_" + column] = versions[False][column]
        parameters["r_" + column] = versions[True][column]
    return parameters
