"""The audit log: append-only, each entry hashing the one before it (tamper-evident).

Entries are written in the caller's transaction, so a lookup whose audit cannot be written
fails with it. On PostgreSQL an advisory lock serialises appends so the chain cannot fork.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from gateway.store.tables import AuditEntry

GENESIS = "0" * 64
_LOCK_KEY = 0x45484541  # "EHEA"
REASON_WIDTH = 300


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


def _digest(prev_hash: str, at: datetime, event: AuditEvent) -> str:
    body = {
        "prev": prev_hash,
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
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def append(session: Session, event: AuditEvent) -> AuditEntry:
    """Add one entry at the end of the chain, in the caller's transaction."""
    if event.reason and len(event.reason) > REASON_WIDTH:
        event = replace(event, reason=event.reason[:REASON_WIDTH])
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
    prev = session.scalar(select(AuditEntry.entry_hash).order_by(AuditEntry.seq.desc()).limit(1))
    at = datetime.now(UTC).replace(microsecond=0)
    prev_hash = prev or GENESIS
    entry = AuditEntry(
        at=at,
        actor=event.actor.user,
        organisation=event.actor.organisation,
        role=event.actor.role,
        action=event.action,
        purpose=event.purpose,
        lawful_basis=event.lawful_basis,
        child_id=event.child_id,
        fields_disclosed=event.fields_disclosed,
        fields_refused=event.fields_refused,
        outcome=event.outcome,
        agreement_clause=event.agreement_clause,
        reason=event.reason,
        prev_hash=prev_hash,
        entry_hash=_digest(prev_hash, at, event),
    )
    session.add(entry)
    session.flush()
    return entry


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
