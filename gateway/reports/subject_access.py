"""Subject access export for one child: everything the index holds and every disclosure of it.

For an IG officer answering a right-of-access request (UK GDPR Art. 15): the child (and any
child ids merged into it), every link of a source record to it with its evidence, every version
of those source records, the reviews that touched them, the held (quarantined or rejected)
items that carry one of those record ids or the child's identifiers, every audit entry that
names the child, and every consent recorded for it with its evidence. The export is personal
data, and may hold third parties' details (family, restricted addresses): it is for review and
redaction before release, never sent as is.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Text, and_, cast, or_, select, tuple_
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import Session

from gateway.access.audit import SHOWN_CANDIDATE, SHOWN_CHILD, Actor, AuditEvent, append
from gateway.access.roles import SUBJECT_ACCESS_ROLES
from gateway.errors import RequestRefusedError
from gateway.read_model import resolve_child
from gateway.store.tables import (
    AuditEntry,
    Child,
    Consent,
    HeldRecord,
    Link,
    LinkEvent,
    LinkReview,
    SourceRecord,
)

SAR_ROLES = SUBJECT_ACCESS_ROLES
NOTICE = (
    "Personal data. Review and redact third parties' details and restricted records' "
    "addresses before release."
)


class UnknownChildError(RequestRefusedError):
    """No child in the index has the id asked for."""


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def _row(obj: Any) -> dict[str, Any]:
    """Every column the index holds for this row (new columns are exported without a change)."""
    return {a.key: _plain(getattr(obj, a.key)) for a in sa_inspect(obj).mapper.column_attrs}


def _merged_ids(session: Session, survivor: str) -> list[str]:
    """The survivor and every child id that redirects to it, however many steps away."""
    ids, frontier = [survivor], [survivor]
    while frontier:
        found = list(session.scalars(select(Child.child_id).where(Child.merged_into.in_(frontier))))
        frontier = [i for i in found if i not in ids]
        ids += frontier
    return ids


def _record_keys(links: list[Link]) -> list[tuple[str, str]]:
    return sorted({(link.source, link.record_id) for link in links})


def _held_items(
    session: Session, keys: list[tuple[str, str]], identifiers: set[str]
) -> list[HeldRecord]:
    conditions: list[Any] = [
        and_(HeldRecord.source == source, HeldRecord.item_key == record_id)
        for source, record_id in keys
    ]
    conditions += [HeldRecord.payload.contains(value) for value in sorted(identifiers)]
    if not conditions:
        return []
    return list(session.scalars(select(HeldRecord).where(or_(*conditions)).order_by(HeldRecord.id)))


def _reviews(session: Session, keys: list[tuple[str, str]]) -> list[LinkReview]:
    if not keys:
        return []
    left = tuple_(LinkReview.left_source, LinkReview.left_record_id).in_(keys)
    right = tuple_(LinkReview.right_source, LinkReview.right_record_id).in_(keys)
    return list(session.scalars(select(LinkReview).where(or_(left, right)).order_by(LinkReview.id)))


def _about(ids: list[str]) -> Any:
    """Entries about one of ``ids``: by their child, or naming it among several children shown
    (a caseload view, search candidates)."""
    listed = cast(AuditEntry.fields_disclosed, Text)
    return or_(
        AuditEntry.child_id.in_(ids),
        *(
            listed.like(f'%"{prefix}{child_id}"%')
            for child_id in ids
            for prefix in (SHOWN_CHILD, SHOWN_CANDIDATE)
        ),
    )


def subject_access_export(session: Session, child_id: str) -> dict[str, Any]:
    """Everything the index holds about ``child_id`` (following merges), as plain JSON data."""
    child = resolve_child(session, child_id)
    if child is None:
        raise UnknownChildError("no child in the index has that id")
    ids = _merged_ids(session, child.child_id)
    links = list(
        session.scalars(
            select(Link).where(Link.child_id.in_(ids)).order_by(Link.source, Link.record_id)
        )
    )
    keys = _record_keys(links)
    records = (
        list(
            session.scalars(
                select(SourceRecord)
                .where(tuple_(SourceRecord.source, SourceRecord.record_id).in_(keys))
                .order_by(SourceRecord.source, SourceRecord.record_id, SourceRecord.version)
            )
        )
        if keys
        else []
    )
    identifiers = {v for r in records for v in (r.nhs_number, r.upn) if v}
    disclosures = session.scalars(select(AuditEntry).where(_about(ids)).order_by(AuditEntry.seq))
    children = session.scalars(select(Child).where(Child.child_id.in_(ids)))
    consents = session.scalars(
        select(Consent).where(Consent.child_id.in_(ids)).order_by(Consent.id)
    )
    return {
        "notice": NOTICE,
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "requested_child_id": child_id,
        "child_id": child.child_id,
        "children": [_row(c) for c in children],
        "links": [_row(link) for link in links],
        "link_history": [_row(e) for e in _link_history(session, ids)],
        "source_records": [_row(r) for r in records],
        "link_reviews": [_row(r) for r in _reviews(session, keys)],
        "quarantine": [_row(h) for h in _held_items(session, keys, identifiers)],
        "disclosures": [_row(e) for e in disclosures],
        # Each consent with its evidence (who gave it, when, how, reference) and recorder.
        "consents": [_row(c) for c in consents],
    }


def audited_subject_access(session: Session, actor: Actor, child_id: str) -> dict[str, Any]:
    """The export for an IG officer, recorded in the audit log (refusals too) before it leaves."""
    if actor.role not in SAR_ROLES:
        append(session, AuditEvent(actor=actor, action="subject_access", outcome="refused_role"))
        session.commit()
        raise PermissionError("only IG officers export a subject access request")
    try:
        export = subject_access_export(session, child_id)
    except UnknownChildError:
        append(session, AuditEvent(actor=actor, action="subject_access", outcome="not_found"))
        session.commit()
        raise
    fields = [name for name, value in export.items() if isinstance(value, list)]
    append(
        session,
        AuditEvent(
            actor=actor,
            action="subject_access",
            outcome="exported",
            lawful_basis="UK GDPR Art. 15 right of access",
            child_id=export["child_id"],
            fields_disclosed=fields,
        ),
    )
    session.commit()
    return export


def _link_history(session: Session, ids: list[str]) -> list[LinkEvent]:
    """Every link, merge, split and review decision that moved a record to or from the child."""
    query = select(LinkEvent).where(
        or_(LinkEvent.child_before.in_(ids), LinkEvent.child_after.in_(ids))
    )
    return list(session.scalars(query.order_by(LinkEvent.id)))
