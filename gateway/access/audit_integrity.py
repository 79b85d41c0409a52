"""Is the audit log whole? Each chain checked link by link, its end against its head, and both
against signed checkpoints kept where the database's administrator cannot rewrite them.

The threat: someone who can write the index database (its superuser) deletes, rewrites or
reorders entries to hide a disclosure. The hash chains alone show an entry changed or moved
in place; they cannot show the newest entries deleted (the chain that is left still holds), nor
a chain rewritten and every hash after it computed again. So:

- each chain's last entry must be the one its ``audit_head`` row names (deleting the newest
  entries without also rewriting the head is a **truncation**);
- a **checkpoint** records, for every chain, its last sequence number, that entry's hash and
  how many entries the chain held, with the time; it is signed with an Ed25519 key that is not
  in the database (``EHE_AUDIT_SIGNING_KEY``, a PEM file) and appended to a file the database
  administrator cannot rewrite (``EHE_AUDIT_CHECKPOINTS``: a path on append-only storage, one
  JSON line a checkpoint). Verifying against the checkpoints shows a truncation, a deletion or a
  rewrite up to the newest checkpoint even when the attacker also rewrote the heads and every
  hash, so long as they have neither the key nor the checkpoint file.

What is not detected: changes made after the newest checkpoint by someone who also rewrites the
heads consistently (checkpoint often: the DAG ``audit__checkpoint`` runs hourly), and anything
done by someone who holds the signing key and can rewrite the checkpoint file.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gateway.access.audit import Actor, AuditEvent, entry_digest, genesis
from gateway.errors import FatalConfigError
from gateway.settings import settings
from gateway.store.tables import AuditEntry, AuditHead

Kind = Literal["rewrite", "reordering", "deletion", "truncation", "bad_checkpoint"]


@dataclass(frozen=True)
class Finding:
    """Something wrong with the log: what, on which chain, from which sequence number."""

    kind: Kind
    chain: int
    seq: int
    detail: str

    def __str__(self) -> str:
        return f"{self.kind} on chain {self.chain} at entry {self.seq}: {self.detail}"


@dataclass(frozen=True)
class ChainMark:
    chain: int
    last_seq: int
    last_hash: str
    entries: int


def _event(entry: AuditEntry) -> AuditEvent:
    return AuditEvent(
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
        answer_digest=entry.answer_digest,
    )


def _entries(session: Session) -> Iterator[AuditEntry]:
    yield from session.scalars(
        select(AuditEntry).order_by(AuditEntry.seq).execution_options(yield_per=1000)
    )


def chain_findings(session: Session) -> list[Finding]:
    """Each chain walked in ``seq`` order: the first entry on each that was rewritten (its hash
    is not its content's), moved (it links to another entry of its chain than the one before
    it) or follows a deletion (it links to no entry there is), then each chain's end against its
    head (entries after it deleted: a truncation)."""
    last: dict[int, AuditEntry] = {}
    found: dict[int, Finding] = {}
    for entry in _entries(session):
        chain = entry.chain
        if chain in found:
            continue
        at = entry.at if entry.at.tzinfo else entry.at.replace(tzinfo=UTC)
        expected_prev = last[chain].entry_hash if chain in last else genesis(chain)
        if entry.entry_hash != entry_digest(entry.prev_hash, at, _event(entry)):
            found[chain] = Finding("rewrite", chain, entry.seq, "its hash is not its content's")
        elif entry.prev_hash != expected_prev:
            found[chain] = _link_finding(session, entry)
        last[chain] = entry
    for head in session.scalars(select(AuditHead).order_by(AuditHead.id)):
        end = last.get(head.id)
        if head.id in found or head.entry_hash == (end.entry_hash if end else genesis(head.id)):
            continue
        after = end.seq + 1 if end else 1
        found[head.id] = Finding(
            "truncation", head.id, after, "the chain ends before the entry its head names"
        )
    return sorted(found.values(), key=lambda f: f.seq)


def _link_finding(session: Session, entry: AuditEntry) -> Finding:
    """An entry that does not follow the one before it: moved, if what it follows is still on
    its chain (elsewhere); else what it followed was deleted."""
    followed = select(AuditEntry.seq).where(
        AuditEntry.entry_hash == entry.prev_hash, AuditEntry.chain == entry.chain
    )
    if session.scalar(followed) is not None:
        return Finding("reordering", entry.chain, entry.seq, "it follows another entry than it did")
    return Finding(
        "deletion", entry.chain, entry.seq, "the entry it follows is no longer in the log"
    )


def chain_marks(session: Session) -> list[ChainMark]:
    """Every chain's last sequence number, that entry's hash, and how many entries it holds."""
    marks = []
    rows = session.execute(
        select(AuditEntry.chain, func.max(AuditEntry.seq), func.count())
        .group_by(AuditEntry.chain)
        .order_by(AuditEntry.chain)
    )
    for chain, last_seq, entries in rows.all():
        last_hash = session.scalar(select(AuditEntry.entry_hash).where(AuditEntry.seq == last_seq))
        marks.append(ChainMark(int(chain), int(last_seq), str(last_hash), int(entries)))
    return marks


def _payload(at: str, marks: list[ChainMark]) -> bytes:
    document = {"at": at, "chains": [asdict(m) for m in marks]}
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode()


def signing_key(path: Path | None = None) -> Ed25519PrivateKey:
    """The checkpoint signing key (``EHE_AUDIT_SIGNING_KEY``): a PEM file outside the database."""
    where = path or settings().audit_signing_key
    if where is None or not where.is_file():
        raise FatalConfigError(
            "no audit signing key: set EHE_AUDIT_SIGNING_KEY to a PEM file "
            "(`ehe-gateway audit keygen --out PATH` makes one)"
        )
    key = serialization.load_pem_private_key(where.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise FatalConfigError("the audit signing key is not an Ed25519 key")
    return key


def write_key(path: Path) -> Ed25519PublicKey:
    """A new signing key at ``path`` (owner-only), refusing to overwrite one."""
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as out:
        out.write(pem)
    return key.public_key()


def checkpoints_path(path: Path | None = None) -> Path:
    where = path or settings().audit_checkpoints
    if where is None:
        raise FatalConfigError(
            "no checkpoint file: set EHE_AUDIT_CHECKPOINTS to a path on append-only storage"
        )
    return where


def write_checkpoint(
    session: Session, key: Ed25519PrivateKey, path: Path, *, at: datetime | None = None
) -> list[ChainMark]:
    """Sign the chains' marks now and append them as one JSON line (flushed to disk)."""
    marks = chain_marks(session)
    moment = (at or datetime.now(UTC)).isoformat(timespec="seconds")
    signature = base64.b64encode(key.sign(_payload(moment, marks))).decode()
    line = {"at": moment, "chains": [asdict(m) for m in marks], "signature": signature}
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as out:
        out.write(json.dumps(line, sort_keys=True) + "\n")
        out.flush()
        os.fsync(out.fileno())
    return marks


def checkpoint_findings(
    session: Session, public_key: Ed25519PublicKey, path: Path
) -> tuple[int, list[Finding]]:
    """How many checkpoints were read, and what each shows: an entry it named gone
    (truncation), changed (rewrite), or fewer entries up to it than it counted (deletion)."""
    findings: dict[tuple[int, Kind], Finding] = {}
    read = 0
    for number, text in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not text.strip():
            continue
        read += 1
        document = json.loads(text)
        marks = [ChainMark(**m) for m in document["chains"]]
        try:
            public_key.verify(
                base64.b64decode(document["signature"]), _payload(document["at"], marks)
            )
        except (InvalidSignature, ValueError):
            bad = Finding("bad_checkpoint", 0, 0, f"line {number}'s signature does not hold")
            findings.setdefault((0, "bad_checkpoint"), bad)
            continue
        for mark in marks:
            for finding in _against(session, mark):
                findings.setdefault((finding.chain, finding.kind), finding)
    return read, sorted(findings.values(), key=lambda f: f.seq)


def _against(session: Session, mark: ChainMark) -> list[Finding]:
    named = session.get(AuditEntry, mark.last_seq)
    if named is None or named.chain != mark.chain:
        first_gone = (
            session.scalar(
                select(func.max(AuditEntry.seq)).where(
                    AuditEntry.chain == mark.chain, AuditEntry.seq <= mark.last_seq
                )
            )
            or 0
        ) + 1
        return [
            Finding("truncation", mark.chain, first_gone, "entries a checkpoint named are gone")
        ]
    if named.entry_hash != mark.last_hash:
        return [Finding("rewrite", mark.chain, mark.last_seq, "not the entry a checkpoint signed")]
    held = session.scalar(
        select(func.count())
        .select_from(AuditEntry)
        .where(AuditEntry.chain == mark.chain, AuditEntry.seq <= mark.last_seq)
    )
    if held != mark.entries:
        return [
            Finding(
                "deletion",
                mark.chain,
                mark.last_seq,
                f"{mark.entries - (held or 0)} entries up to here are gone",
            )
        ]
    return []
