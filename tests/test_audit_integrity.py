"""The audit log notices what a database superuser might do to hide a disclosure: the newest
entries deleted (a truncation), one deleted in the middle, one rewritten, two swapped, and, with
signed checkpoints kept outside the database, all of these even when the heads and every hash
after the change are computed again. On SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC
from pathlib import Path

import pytest
from sqlalchemy import delete, select, text, update
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from gateway.access.audit import Actor, AuditEvent, append, entry_digest, genesis
from gateway.access.audit_integrity import _event as event_of
from gateway.access.audit_integrity import (
    chain_findings,
    checkpoint_findings,
    signing_key,
    write_checkpoint,
    write_key,
)
from gateway.cli import app as cli
from gateway.store.engine import session_factory
from gateway.store.tables import AuditEntry, AuditHead

WHO = Actor("erin.ehe", "North Yorkshire Council", "ehe_officer")
ENTRIES = 12


@contextmanager
def superuser(index_url: str) -> Iterator[Session]:
    """A transaction that may change the log (PostgreSQL's append-only triggers bypassed)."""
    with session_factory(index_url).begin() as session:
        if session.get_bind().dialect.name == "postgresql":
            session.execute(text("SET LOCAL session_replication_role = replica"))
        yield session


@pytest.fixture
def log(index_url: str) -> str:
    with session_factory(index_url).begin() as session:
        for n in range(ENTRIES):
            append(
                session, AuditEvent(WHO, "lookup", "disclosed", "ehe_enquiry", child_id=f"C-{n}")
            )
    return index_url


@pytest.fixture
def key(tmp_path: Path) -> Path:
    path = tmp_path / "keys" / "audit.pem"
    path.parent.mkdir()
    write_key(path)
    return path


def _seqs(index_url: str) -> list[int]:
    with session_factory(index_url)() as session:
        return list(session.scalars(select(AuditEntry.seq).order_by(AuditEntry.seq)))


def _findings(index_url: str) -> list[tuple[str, int]]:
    with session_factory(index_url)() as session:
        return [(f.kind, f.seq) for f in chain_findings(session)]


def _against(index_url: str, key: Path, checkpoints: Path) -> list[tuple[str, int]]:
    with session_factory(index_url)() as session:
        read, found = checkpoint_findings(session, signing_key(key).public_key(), checkpoints)
    assert read >= 1
    return [(f.kind, f.seq) for f in found]


def _checkpoint(index_url: str, key: Path, path: Path) -> None:
    with session_factory(index_url)() as session:
        write_checkpoint(session, signing_key(key), path)


def _rehash_from(session: Session, seq: int) -> None:
    """What an attacker with the database does after a change: every hash from ``seq`` on
    computed again, and the heads moved to the new ends."""
    entries = list(session.scalars(select(AuditEntry).order_by(AuditEntry.seq)))
    last: dict[int, str] = {}
    for entry in entries:
        prev = last.get(entry.chain, genesis(entry.chain))
        if entry.seq >= seq:
            at = entry.at if entry.at.tzinfo else entry.at.replace(tzinfo=UTC)
            entry.prev_hash = prev
            entry.entry_hash = entry_digest(prev, at, event_of(entry))
        last[entry.chain] = entry.entry_hash
    session.flush()
    for chain, end in last.items():
        session.execute(update(AuditHead).where(AuditHead.id == chain).values(entry_hash=end))


def test_an_untouched_log_is_whole(log: str, key: Path, tmp_path: Path) -> None:
    checkpoints = tmp_path / "checkpoints.jsonl"
    _checkpoint(log, key, checkpoints)
    assert _findings(log) == [] and _against(log, key, checkpoints) == []


def test_deleting_the_newest_entries_is_a_truncation(log: str) -> None:
    last = _seqs(log)[-5:]
    with superuser(log) as session:
        session.execute(delete(AuditEntry).where(AuditEntry.seq.in_(last)))
    assert _findings(log) == [("truncation", last[0])]


def test_a_rewrite_a_reordering_and_a_deletion_are_named_at_their_first_entry(log: str) -> None:
    seqs = _seqs(log)
    with superuser(log) as session:
        session.execute(
            update(AuditEntry).where(AuditEntry.seq == seqs[3]).values(purpose="child_protection")
        )
    assert _findings(log) == [("rewrite", seqs[3])]
    with superuser(log) as session:
        _rehash_from(session, seqs[3])
        moved = {s: session.get(AuditEntry, s) for s in seqs[6:8]}
        a, b = moved[seqs[6]], moved[seqs[7]]
        assert a is not None and b is not None
        session.execute(delete(AuditEntry).where(AuditEntry.seq.in_(seqs[6:8])))
        session.flush()
        for entry, seq in ((a, seqs[7]), (b, seqs[6])):
            session.merge(_copy(entry, seq))
    assert _findings(log) == [("reordering", seqs[6])]
    with superuser(log) as session:
        _rehash_from(session, seqs[0])
        session.execute(delete(AuditEntry).where(AuditEntry.seq == seqs[9]))
    assert _findings(log) == [("deletion", seqs[10])]


def _copy(entry: AuditEntry, seq: int) -> AuditEntry:
    columns = {c.key: getattr(entry, c.key) for c in AuditEntry.__table__.columns}
    return AuditEntry(**{**columns, "seq": seq})


def test_checkpoints_show_what_a_consistent_rewrite_hides(
    log: str, key: Path, tmp_path: Path
) -> None:
    checkpoints = tmp_path / "checkpoints.jsonl"
    _checkpoint(log, key, checkpoints)
    seqs = _seqs(log)
    with superuser(log) as session:  # rewrite one, recompute every hash and the heads
        session.execute(
            update(AuditEntry).where(AuditEntry.seq == seqs[2]).values(outcome="refused")
        )
        _rehash_from(session, seqs[2])
    assert _findings(log) == []  # the chain alone cannot tell
    assert _against(log, key, checkpoints) == [("rewrite", seqs[-1])]


def test_checkpoints_show_a_truncation_with_the_heads_rewritten(
    log: str, key: Path, tmp_path: Path
) -> None:
    checkpoints = tmp_path / "checkpoints.jsonl"
    _checkpoint(log, key, checkpoints)
    seqs = _seqs(log)
    with superuser(log) as session:
        session.execute(delete(AuditEntry).where(AuditEntry.seq.in_(seqs[-3:])))
        _rehash_from(session, seqs[0])
    assert _findings(log) == []
    assert _against(log, key, checkpoints) == [("truncation", seqs[-3])]


def test_a_forged_checkpoint_is_refused(log: str, key: Path, tmp_path: Path) -> None:
    checkpoints = tmp_path / "checkpoints.jsonl"
    _checkpoint(log, key, checkpoints)
    forged = checkpoints.read_text().replace('"entries": 12', '"entries": 11')
    checkpoints.write_text(forged)
    assert ("bad_checkpoint", 0) in _against(log, key, checkpoints)


def test_the_cli_signs_checkpoints_and_names_what_it_finds(
    log: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner = CliRunner()
    key = tmp_path / "audit.pem"
    assert runner.invoke(cli, ["audit", "keygen", "--out", str(key)]).exit_code == 0
    assert runner.invoke(cli, ["audit", "keygen", "--out", str(key)]).exit_code == 2
    monkeypatch.setenv("EHE_AUDIT_SIGNING_KEY", str(key))
    checkpoints = tmp_path / "append-only" / "checkpoints.jsonl"
    made = runner.invoke(cli, ["audit", "checkpoint", "--out", str(checkpoints)])
    assert made.exit_code == 0, made.output
    whole = runner.invoke(cli, ["audit", "verify", "--checkpoints", str(checkpoints)])
    assert whole.exit_code == 0 and "1 signed checkpoints" in whole.output
    newest = _seqs(log)[-1]
    with superuser(log) as session:
        session.execute(delete(AuditEntry).where(AuditEntry.seq == newest))
    broken = runner.invoke(cli, ["audit", "verify", "--checkpoints", str(checkpoints)])
    assert broken.exit_code == 1
    assert f"truncation on chain 1 at entry {newest}" in broken.output


def test_a_deleted_newest_entry_s_number_is_never_reused(log: str) -> None:
    """SQLite's AUTOINCREMENT (migration 0020) and PostgreSQL's sequence: the entry after a
    deleted newest one takes a new number, and verify names the deletion at it."""
    newest = _seqs(log)[-1]
    with superuser(log) as session:
        session.execute(delete(AuditEntry).where(AuditEntry.seq == newest))
    with session_factory(log).begin() as session:
        after = append(session, AuditEvent(WHO, "lookup", "disclosed", "ehe_enquiry"))
    assert after > newest
    assert _findings(log) == [("deletion", after)]
    broken = CliRunner().invoke(cli, ["audit", "verify"])
    assert broken.exit_code == 1
    assert f"deletion on chain 1 at entry {after}" in broken.output


def test_the_rebuild_for_autoincrement_keeps_every_entry_and_number(
    index_url: str,
) -> None:
    """Migration 0020 rebuilds the SQLite table: the entries, numbers and chain survive it and
    its downgrade; the highest number used before it is not handed out again."""
    from gateway.store.migrate import downgrade, upgrade

    downgrade(index_url, "0017")
    with session_factory(index_url).begin() as session:
        for n in range(4):
            append(session, AuditEvent(WHO, "lookup", "disclosed", child_id=f"C-{n}"))
    before = _seqs(index_url)
    upgrade(index_url)
    assert _seqs(index_url) == before and _findings(index_url) == []
    with superuser(index_url) as session:
        session.execute(delete(AuditEntry).where(AuditEntry.seq == before[-1]))
        session.execute(
            update(AuditHead)
            .where(AuditHead.id == 1)
            .values(
                entry_hash=select(AuditEntry.entry_hash)
                .where(AuditEntry.seq == before[-2])
                .scalar_subquery()
            )
        )
    with session_factory(index_url).begin() as session:
        assert append(session, AuditEvent(WHO, "lookup", "disclosed")) > before[-1]
    downgrade(index_url, "0017")
    assert len(_seqs(index_url)) == len(before)
    upgrade(index_url)
