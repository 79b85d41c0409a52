"""The audit log: append-only, each entry hashing the one before it (tamper-evident).

Entries are written in the caller's transaction, so a lookup whose audit cannot be written
fails with it. An entry's hash is SHA-256 of the previous entry's hash followed by the entry's
canonical JSON. On PostgreSQL one statement locks the chain's head row, computes the hash
(``sha256()`` in SQL, the same formula as here) and inserts the entry, so concurrent appends
queue on the row lock and the lock is held for one round trip and the commit, no longer.
Elsewhere (SQLite) a write to the head row takes the database's write lock first, then the
hash is computed here.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, text, update
from sqlalchemy.orm import Session

from gateway.errors import GatewayError
from gateway.store.tables import AuditEntry, AuditHead

GENESIS = "0" * 64
REASON_WIDTH = 300


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
    return json.dumps(body, sort_keys=True)


def _digest(prev_hash: str, at: datetime, event: AuditEvent) -> str:
    return hashlib.sha256((prev_hash + _body(at, event)).encode()).hexdigest()


_APPEND_POSTGRESQL = text(
    """
    WITH head AS (
        UPDATE audit_head
        SET prev_hash = entry_hash,
            entry_hash = encode(sha256(convert_to(entry_hash || :body, 'UTF8')), 'hex')
        WHERE id = 1
        RETURNING prev_hash, entry_hash
    )
    INSERT INTO audit_log (
        at, actor, organisation, role, action, purpose, lawful_basis, child_id,
        fields_disclosed, fields_refused, outcome, agreement_clause, reason,
        prev_hash, entry_hash
    )
    SELECT :at, :actor, :organisation, :role, :action, :purpose, :lawful_basis, :child_id,
        CAST(:fields_disclosed AS json), CAST(:fields_refused AS json), :outcome,
        :agreement_clause, :reason, head.prev_hash, head.entry_hash
    FROM head
    RETURNING seq
    """
)


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
    at_head = AuditHead.id == 1
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
    prev_hash = session.scalar(select(AuditHead.entry_hash).where(at_head)) or GENESIS
    entry_hash = _digest(prev_hash, at, event)
    session.execute(
        update(AuditHead)
        .where(at_head)
        .values(entry_hash=entry_hash)
        .execution_options(synchronize_session=False)
    )
    entry = AuditEntry(at=at, prev_hash=prev_hash, entry_hash=entry_hash, **_columns(event))
    session.add(entry)
    session.flush()
    return entry.seq


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
    }


def _append_postgresql(session: Session, event: AuditEvent, at: datetime) -> int:
    values = _columns(event)
    values["fields_disclosed"] = json.dumps(event.fields_disclosed)
    values["fields_refused"] = json.dumps(event.fields_refused)
    seq = session.connection().execute(
        _APPEND_POSTGRESQL, {**values, "at": at, "body": _body(at, event)}
    )
    found = seq.scalar_one_or_none()
    if found is None:
        raise AuditUnavailableError(
            "the audit chain has no head row (run `ehe-gateway db upgrade`)"
        )
    return int(found)


def first_broken_entry(session: Session) -> int | None:
    """The sequence number of the first entry whose hash or link does not hold, else None."""
    prev_hash = GENESIS
    for entry in session.scalars(select(AuditEntry).order_by(AuditEntry.seq)):
        event = AuditEvent(
            actor=Actor(entry.actor, entry.organisation, entry.role),
            action=entry.action,
            outcome=entry.outcome,
            purpose=entry.purpose,
            lawful_basis=entry.lawful_basis,
            child_id=entry.child_id,
            fields_disclosed=list(entry.fields_disclosed),
            fields_refused=list(entry.fields_refused),
            agreement_clause=entry.agreement_clause,
            reason=entry.reason,
        )
        at = entry.at if entry.at.tzinfo else entry.at.replace(tzinfo=UTC)
        if entry.prev_hash != prev_hash or entry.entry_hash != _digest(prev_hash, at, event):
            return entry.seq
        prev_hash = entry.entry_hash
    return None
