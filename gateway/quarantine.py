"""Quarantine actions: list and inspect held records, release them after a fix, reject them.

Releasing reprocesses a held item's whole batch from the landing area with today's mapping and
suite (loading is idempotent, so what was already loaded is unchanged). Rejecting records a
reviewer's decision not to load. Both are written to the audit log, in the same transaction
as the change they record.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import select

from gateway.access.audit import Actor, AuditEvent, append
from gateway.errors import FatalConfigError
from gateway.pipeline.loading import Accounting, accounting_rows, reprocess_batch
from gateway.store.batch_status import GATED, HELD_WHOLE
from gateway.store.engine import session_factory
from gateway.store.tables import Batch, HeldRecord

REVIEWER_ROLE = "data_engineer"
VALUE_ROLES = frozenset({"data_engineer", "ig_officer"})


@dataclass(frozen=True)
class HeldItem:
    id: int
    source: str
    batch_id: str
    item_key: str
    stage: str
    status: str
    reasons: list[dict[str, Any]]

    @property
    def first_reason(self) -> str:
        if not self.reasons:
            return ""
        reason = self.reasons[0]
        return str(
            reason.get("rule") if reason.get("stage") == "validation" else reason.get("explain")
        )


def _item(row: HeldRecord) -> HeldItem:
    return HeldItem(
        row.id, row.source, row.batch_id, row.item_key, row.stage, row.status, list(row.reasons)
    )


def list_held(
    *, source: str | None = None, status: str | None = "quarantined", index_url: str | None = None
) -> list[HeldItem]:
    query = select(HeldRecord).order_by(HeldRecord.source, HeldRecord.batch_id, HeldRecord.id)
    if source:
        query = query.where(HeldRecord.source == source)
    if status:
        query = query.where(HeldRecord.status == status)
    with session_factory(index_url)() as session:
        return [_item(row) for row in session.scalars(query)]


def list_held_batches(
    *, source: str | None = None, status: str | None = GATED, index_url: str | None = None
) -> list[Accounting]:
    """Batches held whole by a gate (``gated``; ``superseded`` once a later full snapshot
    loaded; None for both), each with its record count and reasons."""
    wanted = HELD_WHOLE if status is None else (status,)
    return [
        row
        for row in accounting_rows(index_url)
        if row.status in wanted and (source is None or row.source == source)
    ]


@dataclass(frozen=True)
class HeldView:
    """What one viewer may see of a held item: reasons always, values only for some roles."""

    item: HeldItem
    payload: str | None

    @property
    def values_shown(self) -> bool:
        return self.payload is not None


def may_see_values(role: str) -> bool:
    """Failing values and kept content are personal data: only these roles see them."""
    return role in VALUE_ROLES


def without_values(reasons: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The reasons with the failing values taken out (rules, fields and explanations stay)."""
    return [{k: v for k, v in r.items() if k != "values"} for r in reasons]


def show_held(item_id: int, viewer: Actor, *, index_url: str | None = None) -> HeldView:
    """One held item for one viewer; the failing values and the kept record only for roles
    allowed to see them. Every look is audited, shown or withheld."""
    allowed = may_see_values(viewer.role)
    with session_factory(index_url).begin() as session:
        row = session.get(HeldRecord, item_id)
        if row is None:
            raise FatalConfigError(f"no held record {item_id}")
        item = _item(row)
        payload = row.payload if allowed else None
        append(
            session,
            AuditEvent(
                actor=viewer,
                action="quarantine_show",
                outcome="values_shown" if allowed else "values_withheld",
                fields_disclosed=[f"held:{item_id}"] if allowed else [],
                fields_refused=[] if allowed else [f"held:{item_id}:values"],
            ),
        )
    if not allowed:
        item = replace(item, reasons=without_values(item.reasons))
    return HeldView(item, payload)


def release_batch(batch_id: str, reviewer: Actor, *, index_url: str | None = None) -> Accounting:
    """Reprocess a batch after a fix; audit who did it. Items that now pass are released."""
    accounting = reprocess_batch(batch_id, index_url=index_url)
    with session_factory(index_url).begin() as session:
        append(
            session,
            AuditEvent(
                actor=reviewer,
                action="quarantine_release",
                outcome="reprocessed",
                fields_disclosed=[f"batch:{batch_id}"],
            ),
        )
    return accounting


def reject_held(
    item_id: int, reason: str, reviewer: Actor, *, index_url: str | None = None
) -> HeldItem:
    """Decide not to load a quarantined item; the decision and its reason are kept and audited."""
    if not reason.strip():
        raise FatalConfigError("a rejection needs a reason")
    with session_factory(index_url).begin() as session:
        row = session.get(HeldRecord, item_id)
        if row is None:
            raise FatalConfigError(f"no held record {item_id}")
        if row.status != "quarantined":
            raise FatalConfigError(f"held record {item_id} is {row.status}, not quarantined")
        row.status = "rejected"
        row.reasons = [
            *row.reasons,
            {
                "stage": "review",
                "rule": "rejected_by_reviewer",
                "explain": reason,
                "by": reviewer.user,
            },
        ]
        batch = session.get(Batch, row.batch_id)
        assert batch is not None
        batch.quarantined -= 1
        batch.rejected += 1
        append(
            session,
            AuditEvent(
                actor=reviewer,
                action="quarantine_reject",
                outcome="rejected",
                fields_refused=[f"held:{item_id}"],
            ),
        )
        return _item(row)
