"""A checkpoint, as the hourly DAG ``audit__checkpoint`` and ``ehe-gateway audit checkpoint``
make it: verify the log, then sign it.

Each run checks every chain and, when the checkpoint file already holds checkpoints, the log
against them; only a log that verifies whole gets a new signed checkpoint. A broken log raises
``AuditBrokenError`` (the DAG's failure callback raises an ``audit_broken`` alert naming each
problem's kind, chain and first sequence number: numbers, never entry contents) and nothing is
signed over it, so the newest checkpoint still describes the log before the change. A missing
signing key or checkpoint file setting is a ``FatalConfigError`` that names the setting.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from gateway.access.audit_integrity import checkpoints_path, signing_key, write_checkpoint
from gateway.access.audit_queries import verify_chain
from gateway.recovery import AuditBrokenError
from gateway.store.engine import session_factory


@dataclass(frozen=True)
class ScheduledCheckpoint:
    """What one run did: entries verified, checkpoints checked against, chains signed."""

    entries: int
    checked_against: int
    chains: int


def verify_and_checkpoint(
    index_url: str | None = None, out: Path | None = None
) -> ScheduledCheckpoint:
    """Verify the audit log (against the earlier checkpoints in the file too), then append a
    signed checkpoint of it to ``out`` (default ``EHE_AUDIT_CHECKPOINTS``); raise
    ``AuditBrokenError`` and sign nothing if anything is wrong."""
    key = signing_key()
    path = checkpoints_path(out)
    earlier = path if path.is_file() else None
    with session_factory(index_url)() as session:
        report = verify_chain(session, earlier, key.public_key())
        if not report.intact:
            problems = "; ".join(
                f"{p.kind} on chain {p.chain} at entry {p.seq}" for p in report.problems
            )
            raise AuditBrokenError(
                f"audit log BROKEN, no checkpoint signed: {problems} "
                "(`ehe-gateway audit verify --checkpoints` says more)"
            )
        marks = write_checkpoint(session, key, path)
    return ScheduledCheckpoint(report.entries, report.checkpoints, len(marks))
