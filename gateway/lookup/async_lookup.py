"""A child's summary on PostgreSQL, on the event loop, in one statement and one round trip.

The API's busiest request is a lookup by child id that an agreement allows, for a purpose that
needs no consent. ``AsyncLookups`` answers it as ``disclose`` would, with the same decision, the
same minimised answer (``disclosure.minimised``) and the same audit entry; but as one statement
on an autocommit connection (one statement, one transaction), from psycopg's async pool on the
event loop: no worker thread, no ORM, no BEGIN or COMMIT exchanges.

The statement reads the child and its current linked records, decides from them whether the
child is restricted (as ``disclosure.is_restricted`` does), and appends the audit entry for
that case on a free chain head (``audit.append``'s hash chain): the entry of a lookup depends
on the data only through that flag (``disclosure.lookup_event``), so both candidate entries
are made here and the statement keeps one. The answer is then built from the records read; if
it does not match the entry kept, nothing is disclosed (fail closed). The answer leaves only
after the statement, and so its transaction, has committed.

Everything else (a child not found or merged into another, refusals, consent, break-glass,
identifiers other than the child id) is left to the caller's ordinary path, which records it:
``lookup`` returns None.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any, Literal

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool
from sqlalchemy.engine import make_url

from gateway.access.agreements import SharingDecision
from gateway.access.audit import Actor, AuditUnavailableError, postgresql_parameters
from gateway.access.purposes import Purpose
from gateway.lookup.disclosure import Disclosure, lookup_event, minimised
from gateway.lookup.summary import FoundChild
from gateway.model import CanonicalRecord


def _read_and_append(lock: Literal["FOR UPDATE SKIP LOCKED", "FOR UPDATE"]) -> str:
    """The child's restricted verdict and the new entry's ``seq`` (one row), then one row per
    record (its payload as JSON text); no rows if no unmerged child has the id."""
    return f"""
    WITH found AS (
        SELECT child_id, restricted FROM child
        WHERE child_id = %(child_id)s AND merged_into IS NULL
    ),
    records AS (
        SELECT CAST(r.payload AS text) AS payload,
            coalesce(CAST(r.payload -> 'identity' ->> 'restricted' AS boolean), false)
                AS restricted
        FROM found
        JOIN link l ON l.child_id = found.child_id AND l.state = 'MATCH'
        JOIN source_record r
            ON r.source = l.source AND r.record_id = l.record_id AND r.is_current IS true
    ),
    verdict AS (
        SELECT found.restricted
            OR coalesce((SELECT bool_or(records.restricted) FROM records), false) AS restricted
        FROM found
    ),
    taken AS (
        SELECT id FROM audit_head WHERE EXISTS (SELECT 1 FROM verdict)
        ORDER BY id LIMIT 1 {lock}
    ),
    head AS (
        UPDATE audit_head
        SET prev_hash = audit_head.entry_hash,
            entry_hash = encode(sha256(convert_to(audit_head.entry_hash
                || CASE WHEN verdict.restricted THEN %(r_body)s ELSE %(o_body)s END,
                'UTF8')), 'hex')
        FROM taken, verdict
        WHERE audit_head.id = taken.id
        RETURNING audit_head.id, audit_head.prev_hash, audit_head.entry_hash, verdict.restricted
    ),
    entry AS (
        INSERT INTO audit_log (
            at, actor, organisation, role, action, purpose, lawful_basis, child_id,
            fields_disclosed, fields_refused, outcome, agreement_clause, reason,
            chain, prev_hash, entry_hash
        )
        SELECT %(at)s, %(actor)s, %(organisation)s, %(role)s, %(action)s, %(purpose)s,
            %(lawful_basis)s, %(child_id)s,
            CAST(CASE WHEN head.restricted THEN %(r_fields_disclosed)s
                ELSE %(o_fields_disclosed)s END AS json),
            CAST(CASE WHEN head.restricted THEN %(r_fields_refused)s
                ELSE %(o_fields_refused)s END AS json),
            CASE WHEN head.restricted THEN %(r_outcome)s ELSE %(o_outcome)s END,
            %(agreement_clause)s, %(reason)s, head.id, head.prev_hash, head.entry_hash
        FROM head
        RETURNING seq
    )
    SELECT verdict.restricted, (SELECT seq FROM entry), NULL FROM verdict
    UNION ALL
    SELECT NULL, NULL, payload FROM records
    """  # noqa: S608 (the only text put in is ``lock``, one of two constants)


# A head no other transaction holds; else (every head taken: nothing written) one to wait for.
_ON_A_FREE_CHAIN = _read_and_append("FOR UPDATE SKIP LOCKED")
_WAITING = _read_and_append("FOR UPDATE")
_VARIANT_COLUMNS = ("body", "fields_disclosed", "fields_refused", "outcome")


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
        records = [CanonicalRecord.model_validate_json(r[2]) for r in rows if r[2] is not None]
        # The statement's verdict stands for the child's own label: the answer is then
        # restricted whenever the entry written says so, and the check below catches the
        # records' labels being read differently there and here.
        child = FoundChild(child_id, restricted, records)
        disclosure, _ = minimised(actor, purpose, child, records, decision=decision)
        if disclosure.restricted != restricted:
            raise AuditUnavailableError("the audit entry written does not match the answer")
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
    parameters = dict(versions[False])
    for column in _VARIANT_COLUMNS:
        del parameters[column]
        parameters["o_" + column] = versions[False][column]
        parameters["r_" + column] = versions[True][column]
    return parameters
