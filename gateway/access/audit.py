"""The audit log: append-only, each entry hashing the one before it (tamper-evident).

Entries are written in the caller's transaction, so a lookup whose audit cannot be written
fails with it. An entry's hash is SHA-256 of the previous entry's hash followed by the entry's
canonical JSON. The log is several chains (``audit_log.chain``, one ``audit_head`` row each,
each from its own genesis value): one chain would make every audited request in the service
wait in turn for one row lock, held until the commit. On PostgreSQL one statement takes a
head no other transaction holds (``FOR UPDATE SKIP LOCKED``), computes the hash (``sha256()``
in SQL, the same formula as here) and inserts the entry on that chain; only if every head is
taken does it wait for one. Elsewhere (SQLite, one writer at a time) entries go on chain 1:
a write to its head row takes the database's write lock first, then the hash is computed here.
``gateway.access.audit_integrity`` checks every chain, its end against its head, and both
against signed checkpoints kept outside the database.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy import TextClause, insert, select, text, update
from sqlalchemy.orm import Session

from gateway.errors import GatewayError
from gateway.store.tables import AuditEntry, AuditHead

GENESIS = "0" * 64
# How an entry about several children names each one shown, in ``fields_disclosed``.
SHOWN_CHILD = "child:"
SHOWN_CANDIDATE = "candidate:"
REASON_WIDTH = 300
PORTABLE_CHAIN = 1


def genesis(chain: int) -> str:
    """The hash a chain starts from: zeros for chain 1 (the log's first and, before several,
    only chain), a value of its own for each other, so an entry moved between chains breaks."""
    if chain == 1:
        return GENESIS
    return hashlib.sha256(f"ehe-gateway audit chain {chain}".encode()).hexdigest()


class AuditUnavailableError(GatewayError):
    """The audit entry could not be written: whatever it would have recorded must not happen."""


@dataclass(frozen=True)
class Actor:
    user: str
    organisation: str
    role: str


@dataclass
class AuditEvent:
    actor: Actor
    action: str
    outcome: str
    purpose: str | None = None
    lawful_basis: str | None = None
    child_id: str | None = None
    fields_disclosed: list[str] = field(default_factory=list)
    fields_refused: list[str] = field(default_factory=list)
    agreement_clause: str | None = None
    reason: str | None = None
    # A lookup's answer as shown: SHA-256 of its canonical JSON (``disclosure.answer_digest``),
    # so a replay can show it gives the same answer. None for entries that show no values.
    answer_digest: str | None = None


def _body(at: datetime, event: AuditEvent) -> str:
    """The entry's canonical JSON (ASCII, sorted keys): what its hash covers after the link."""
    body = {
        "at": at.isoformat(),
        "user": event.actor.user,
        "organisation": event.actor.organisation,
        "role": event.actor.role,
        "action": event.action,
        "purpose": event.purpose,
        "basis": event.lawful_basis,
        "child": event.child_id,
        "disclosed": event.fields_disclosed,
        "refused": event.fields_refused,
        "outcome": event.outcome,
        "clause": event.agreement_clause,
        "reason": event.reason,
    }
    if event.answer_digest is not None:  # absent from entries without one (and older entries)
        body["answer"] = event.answer_digest
    return json.dumps(body, sort_keys=True)


def entry_digest(prev_hash: str, at: datetime, event: AuditEvent) -> str:
    return hashlib.sha256((prev_hash + _body(at, event)).encode()).hexdigest()


# The entry's columns, in the order the append statement writes them (JSON ones cast).
ENTRY_COLUMNS = (
    "at",
    "actor",
    "organisation",
    "role",
    "action",
    "purpose",
    "lawful_basis",
    "child_id",
    "fields_disclosed",
    "fields_refused",
    "outcome",
    "agreement_clause",
    "reason",
    "answer_digest",
)
_JSON_COLUMNS = frozenset({"fields_disclosed", "fields_refused"})
Lock = Literal["FOR UPDATE SKIP LOCKED", "FOR UPDATE"]


def append_ctes(
    lock: Lock,
    param: Callable[[str], str],
    *,
    value: Callable[[str], str] | None = None,
    after: str | None = None,
    columns: tuple[str, ...] = ENTRY_COLUMNS,
) -> str:
    """The one text of an append on PostgreSQL, as three CTEs: ``taken`` (a chain head, with
    ``lock``), ``head`` (moved on by the entry's hash, computed in SQL) and ``entry`` (the row
    inserted, ``RETURNING seq``). Every append on PostgreSQL is built from it.

    ``param(name)`` renders a placeholder (``:name`` for SQLAlchemy, ``%(name)s`` for psycopg);
    ``value(name)`` renders a column's value (``body`` included), by default its placeholder;
    ``after`` names a one-row CTE defined before these: the entry is written only if it has a
    row, and ``value`` may read it; ``columns``: the entry's columns written (an entry with no
    answer digest leaves that column out, so the append also runs on an index not yet upgraded
    to it).

    The free head is the first by id, found through the primary key: every append updates a
    head, so the table holds many dead row versions between vacuums (500 pages for 16 rows
    after a minute of lookups), which ``ORDER BY random()`` read in full on every append."""
    value = value or param
    # Only constants of this package and the caller's CTE name are put into the text.
    only_if = f"WHERE EXISTS (SELECT 1 FROM {after})" if after else ""  # noqa: S608
    also = f", {after}" if after else ""
    values = ", ".join(
        f"CAST({value(c)} AS json)" if c in _JSON_COLUMNS else value(c) for c in columns
    )
    return f"""
    taken AS (
        SELECT id FROM audit_head {only_if} ORDER BY id LIMIT 1 {lock}
    ),
    head AS (
        UPDATE audit_head
        SET prev_hash = audit_head.entry_hash,
            entry_hash = encode(sha256(convert_to(audit_head.entry_hash || {value("body")},
                'UTF8')), 'hex')
        FROM taken{also}
        WHERE audit_head.id = taken.id
        RETURNING audit_head.id, audit_head.prev_hash, audit_head.entry_hash
    ),
    entry AS (
        INSERT INTO audit_log ({", ".join(columns)}, chain, prev_hash, entry_hash)
        SELECT {values}, head.id, head.prev_hash, head.entry_hash
        FROM head{also}
        RETURNING seq
    )"""  # noqa: S608


def _append_on_a_chain(lock: Lock, columns: tuple[str, ...]) -> TextClause:
    """Take a chain head with ``lock``, move it on by the entry's hash, insert the entry."""
    ctes = append_ctes(lock, lambda name: f":{name}", columns=columns)
    return text(f"WITH {ctes} SELECT seq FROM entry")  # noqa: S608 (text from constants only)


WITHOUT_DIGEST = tuple(c for c in ENTRY_COLUMNS if c != "answer_digest")
# A head no other transaction holds (locked until this one ends), or no row at all; by whether
# the entry carries an answer digest.
APPEND_ON_A_FREE_CHAIN = {
    True: _append_on_a_chain("FOR UPDATE SKIP LOCKED", ENTRY_COLUMNS),
    False: _append_on_a_chain("FOR UPDATE SKIP LOCKED", WITHOUT_DIGEST),
}
# Every head was taken: wait for one.
APPEND_WAITING = {
    True: _append_on_a_chain("FOR UPDATE", ENTRY_COLUMNS),
    False: _append_on_a_chain("FOR UPDATE", WITHOUT_DIGEST),
}


def append(session: Session, event: AuditEvent) -> int:
    """Add one entry at the end of the chain, in the caller's transaction; its sequence number."""
    if event.reason and len(event.reason) > REASON_WIDTH:
        event = replace(event, reason=event.reason[:REASON_WIDTH])
    at = datetime.now(UTC).replace(microsecond=0)
    if session.get_bind().dialect.name == "postgresql":
        return _append_postgresql(session, event, at)
    return _append_portable(session, event, at)


def _append_portable(session: Session, event: AuditEvent, at: datetime) -> int:
    """Take the write lock first (a write to the head row), then read the head and extend it."""
    at_head = AuditHead.id == PORTABLE_CHAIN
    taken = session.execute(
        update(AuditHead)
        .where(at_head)
        .values(prev_hash=AuditHead.entry_hash)
        .execution_options(synchronize_session=False)
    )
    if getattr(taken, "rowcount", 0) != 1:
        raise AuditUnavailableError(
            "the audit chain has no head row (run `ehe-gateway db upgrade`)"
        )
    prev_hash = session.scalar(select(AuditHead.entry_hash).where(at_head)) or genesis(
        PORTABLE_CHAIN
    )
    entry_hash = entry_digest(prev_hash, at, event)
    session.execute(
        update(AuditHead)
        .where(at_head)
        .values(entry_hash=entry_hash)
        .execution_options(synchronize_session=False)
    )
    columns = _columns(event)
    if event.answer_digest is None:  # left out: the column stays NULL (or need not exist yet)
        del columns["answer_digest"]
    written = session.connection().execute(
        insert(AuditEntry).values(
            at=at, chain=PORTABLE_CHAIN, prev_hash=prev_hash, entry_hash=entry_hash, **columns
        )
    )
    key = written.inserted_primary_key
    assert key is not None
    return int(key[0])


def _columns(event: AuditEvent) -> dict[str, Any]:
    return {
        "actor": event.actor.user,
        "organisation": event.actor.organisation,
        "role": event.actor.role,
        "action": event.action,
        "purpose": event.purpose,
        "lawful_basis": event.lawful_basis,
        "child_id": event.child_id,
        "fields_disclosed": event.fields_disclosed,
        "fields_refused": event.fields_refused,
        "outcome": event.outcome,
        "agreement_clause": event.agreement_clause,
        "reason": event.reason,
        "answer_digest": event.answer_digest,
    }


def postgresql_parameters(event: AuditEvent, at: datetime) -> dict[str, Any]:
    """The parameters of ``APPEND_ON_A_FREE_CHAIN`` and ``APPEND_WAITING`` for this entry."""
    if event.reason and len(event.reason) > REASON_WIDTH:
        event = replace(event, reason=event.reason[:REASON_WIDTH])
    values = _columns(event)
    values["fields_disclosed"] = json.dumps(event.fields_disclosed)
    values["fields_refused"] = json.dumps(event.fields_refused)
    return {**values, "at": at, "body": _body(at, event)}


def _append_postgresql(session: Session, event: AuditEvent, at: datetime) -> int:
    connection = session.connection()
    parameters = postgresql_parameters(event, at)
    digest = event.answer_digest is not None
    found = connection.execute(APPEND_ON_A_FREE_CHAIN[digest], parameters).scalar_one_or_none()
    if found is None:
        found = connection.execute(APPEND_WAITING[digest], parameters).scalar_one_or_none()
    if found is None:
        raise AuditUnavailableError(
            "the audit chain has no head row (run `ehe-gateway db upgrade`)"
        )
    return int(found)
