"""Questions IG officers ask of the audit log: who looked at what, when, why, and refusals."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pydantic import BaseModel, Field
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from gateway.access.audit_integrity import chain_findings, checkpoint_findings
from gateway.store.tables import AuditEntry


class AuditQuery(BaseModel):
    """Filters; every one optional. Results newest first."""

    since: datetime | None = None
    until: datetime | None = None
    user: str | None = Field(None, max_length=120)
    organisation: str | None = Field(None, max_length=120)
    role: str | None = Field(None, max_length=40)
    purpose: str | None = Field(None, max_length=60)
    child_id: str | None = Field(None, max_length=40)
    action: str | None = Field(None, max_length=40)
    outcome: str | None = Field(None, max_length=20)
    limit: int = Field(100, ge=1, le=1000)
    before_seq: int | None = Field(
        None, ge=1, le=2**31 - 1, description="Page: entries older than this"
    )


class AuditEntryOut(BaseModel):
    seq: int
    at: datetime
    user: str
    organisation: str
    role: str
    action: str
    outcome: str
    purpose: str | None
    lawful_basis: str | None
    agreement_clause: str | None
    child_id: str | None
    fields_disclosed: list[str]
    fields_refused: list[str]
    reason: str | None
    answer_digest: str | None = Field(
        None, description="SHA-256 of the answer shown (lookups), for replays to compare with"
    )

    @classmethod
    def of(cls, entry: AuditEntry) -> AuditEntryOut:
        return cls(
            seq=entry.seq,
            at=entry.at,
            user=entry.actor,
            organisation=entry.organisation,
            role=entry.role,
            action=entry.action,
            outcome=entry.outcome,
            purpose=entry.purpose,
            lawful_basis=entry.lawful_basis,
            agreement_clause=entry.agreement_clause,
            child_id=entry.child_id,
            fields_disclosed=list(entry.fields_disclosed),
            fields_refused=list(entry.fields_refused),
            reason=entry.reason,
            answer_digest=entry.answer_digest,
        )


def _filtered(query: AuditQuery) -> Select[AuditEntry]:
    statement = select(AuditEntry)
    columns = {
        "user": AuditEntry.actor,
        "organisation": AuditEntry.organisation,
        "role": AuditEntry.role,
        "purpose": AuditEntry.purpose,
        "child_id": AuditEntry.child_id,
        "action": AuditEntry.action,
        "outcome": AuditEntry.outcome,
    }
    for name, column in columns.items():
        value = getattr(query, name)
        if value is not None:
            statement = statement.where(column == value)
    if query.since is not None:
        statement = statement.where(AuditEntry.at >= query.since)
    if query.until is not None:
        statement = statement.where(AuditEntry.at < query.until)
    if query.before_seq is not None:
        statement = statement.where(AuditEntry.seq < query.before_seq)
    return statement


def search_audit(session: Session, query: AuditQuery) -> list[AuditEntryOut]:
    """Entries matching every given filter, newest first, at most ``query.limit``."""
    statement = _filtered(query).order_by(AuditEntry.seq.desc()).limit(query.limit)
    return [AuditEntryOut.of(e) for e in session.scalars(statement)]


class ProblemOut(BaseModel):
    kind: str = Field(description="rewrite, reordering, deletion, truncation or bad_checkpoint")
    chain: int
    seq: int = Field(description="the first sequence number it concerns")
    detail: str


class ChainReport(BaseModel):
    entries: int
    first_broken_seq: int | None
    problems: list[ProblemOut] = []
    checkpoints: int = Field(0, description="signed checkpoints checked against")

    @property
    def intact(self) -> bool:
        return not self.problems


def verify_chain(
    session: Session, checkpoints: Path | None = None, public_key: Ed25519PublicKey | None = None
) -> ChainReport:
    """How many entries there are and what is wrong: each chain link by link and against its
    head, and against the signed checkpoints in ``checkpoints`` (if given)."""
    count = session.scalar(select(func.count()).select_from(AuditEntry)) or 0
    found = chain_findings(session)
    read = 0
    if checkpoints is not None and public_key is not None:
        read, against = checkpoint_findings(session, public_key, checkpoints)
        found = sorted([*found, *against], key=lambda f: f.seq)
    return ChainReport(
        entries=count,
        first_broken_seq=found[0].seq if found else None,
        problems=[ProblemOut(**asdict(f)) for f in found],
        checkpoints=read,
    )
