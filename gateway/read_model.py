"""The read model of a child: the one way anything above the store reads a child.

A child is a stable ``child_id`` (followed through merges to the survivor), the current
versions of the source records linked to it as a MATCH, the agencies those records come from,
and one verdict: *restricted*. The rule for that verdict lives here and nowhere else:

    A child is restricted when any current source record linked to it as a MATCH carries a
    restricted label (PDS S-flag, a sensitive social-care marker): the most restrictive label
    of any of its records wins, whichever agency holds it and whatever a clause shares.

The verdict is stored on ``child.restricted`` and kept true by ``refresh_restricted``, which
every writer that changes a child's records calls: loading a batch, linking, merging and
unmerging, and review decisions. Readers (the policy point, the API's one-statement lookup,
search, caseload, review pairs, subject access) read the stored verdict and never decide it
again. ``restricted_verdict`` is the rule as one SQL expression: the refresh is built from it,
and so is any faster path that needs the verdict inside a statement of its own.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Text,
    and_,
    bindparam,
    cast,
    exists,
    select,
    true,
    update,
)
from sqlalchemy.orm import Session

from gateway.model import CanonicalRecord
from gateway.store.tables import Child, Link, SourceRecord

CHUNK = 500


def restricted_verdict(child_id: ColumnElement[Any]) -> ColumnElement[bool]:
    """The rule: does any current record linked to ``child_id`` as a MATCH carry a
    restricted label?"""
    link, record = Link.__table__.c, SourceRecord.__table__.c
    return exists(
        select(1)
        .select_from(Link.__table__)
        .join(
            SourceRecord.__table__,
            and_(record.source == link.source, record.record_id == link.record_id),
        )
        .where(
            link.child_id == child_id,
            link.state == "MATCH",
            record.is_current.is_(true()),
            record.restricted.is_(true()),
        )
    )


_REFRESH = (
    update(Child)
    .where(Child.child_id.in_(bindparam("child_ids", expanding=True)))
    .values(restricted=restricted_verdict(Child.__table__.c.child_id))
    .execution_options(synchronize_session=False)
)
_REFRESH_ALL = (
    update(Child)
    .values(restricted=restricted_verdict(Child.__table__.c.child_id))
    .execution_options(synchronize_session=False)
)


def refresh_restricted(session: Session, child_ids: Iterable[str] | None = None) -> None:
    """Set the stored verdict again for these children (every child with None), after their
    records or links changed. Objects already in the session are expired, so they read it."""
    if child_ids is None:
        session.execute(_REFRESH_ALL)
    else:
        ids = sorted(set(child_ids))
        for start in range(0, len(ids), CHUNK):
            session.execute(_REFRESH, {"child_ids": ids[start : start + CHUNK]})
    for held in [o for o in session.identity_map.values() if isinstance(o, Child)]:
        session.expire(held, ["restricted"])


def children_of_batch(session: Session, source: str, batch_id: str) -> set[str]:
    """The children any version loaded by this batch is linked to (whatever the link state)."""
    record, link = SourceRecord.__table__.c, Link.__table__.c
    rows = session.execute(
        select(link.child_id)
        .join(
            SourceRecord.__table__,
            and_(record.source == link.source, record.record_id == link.record_id),
        )
        .where(record.source == source, record.batch_id == batch_id)
        .distinct()
    )
    return {child_id for (child_id,) in rows}


def resolve_child(session: Session, child_id: str) -> Child | None:
    """The child, following merges to the surviving id."""
    child = session.get(Child, child_id)
    seen = set()
    while child is not None and child.merged_into and child.child_id not in seen:
        seen.add(child.child_id)
        child = session.get(Child, child.merged_into)
    return child


@dataclass(frozen=True)
class FoundChild:
    """A child (the survivor, if it was merged), its stored restricted verdict, and the current
    versions of its records linked as a MATCH, read at once."""

    child_id: str
    restricted: bool
    records: list[CanonicalRecord]

    @property
    def known_to(self) -> list[str]:
        """The agencies whose records are linked to the child."""
        return sorted({r.agency for r in self.records})


def _records_of_children() -> Any:
    child, link, record = Child.__table__.c, Link.__table__.c, SourceRecord.__table__.c
    return (
        select(
            child.child_id,
            child.restricted,
            child.merged_into,
            cast(record.payload, Text).label("payload"),
        )
        .select_from(Child.__table__)
        .outerjoin(Link.__table__, and_(link.child_id == child.child_id, link.state == "MATCH"))
        .outerjoin(
            SourceRecord.__table__,
            and_(
                record.source == link.source,
                record.record_id == link.record_id,
                record.is_current.is_(True),
            ),
        )
    )


# Built once (SQLAlchemy then finds its compiled form by the statement's memoised key).
CHILD_WITH_RECORDS = _records_of_children().where(
    Child.__table__.c.child_id == bindparam("child_id")
)


def child_with_records(session: Session, child_id: str) -> FoundChild | None:
    """The child (following merges, as ``resolve_child`` does) and its records, in one query
    per child on the way (one, nearly always). The records come as JSON text, parsed by
    pydantic's core straight from it."""
    connection = session.connection()
    wanted, seen = child_id, set()
    while True:
        rows = connection.execute(CHILD_WITH_RECORDS, {"child_id": wanted}).all()
        if not rows:
            return None
        found, restricted, merged_into, _ = rows[0]
        if merged_into and found not in seen:
            seen.add(found)
            wanted = merged_into
            continue
        records = [CanonicalRecord.model_validate_json(r[3]) for r in rows if r[3] is not None]
        return FoundChild(found, bool(restricted), records)


def educated_children(session: Session) -> list[FoundChild]:
    """Every unmerged child an education source knows, with its current records."""
    link, record = Link.__table__.c, SourceRecord.__table__.c
    educated = (
        select(link.child_id)
        .join(
            SourceRecord.__table__,
            and_(link.source == record.source, link.record_id == record.record_id),
        )
        .where(record.agency == "education", record.is_current.is_(True))
        .where(link.state == "MATCH")
    )
    query = _records_of_children().where(
        Child.__table__.c.child_id.in_(educated), Child.__table__.c.merged_into.is_(None)
    )
    found: dict[str, tuple[bool, list[CanonicalRecord]]] = {}
    for child_id, restricted, _merged, payload in session.connection().execute(query):
        _, records = found.setdefault(child_id, (bool(restricted), []))
        if payload is not None:
            records.append(CanonicalRecord.model_validate_json(payload))
    return [FoundChild(c, restricted, records) for c, (restricted, records) in found.items()]


def find_child_id(
    session: Session,
    *,
    nhs_number: str | None = None,
    upn: str | None = None,
    child_id: str | None = None,
) -> str | None:
    """The child a valid identifier belongs to (following merges), or None."""
    if child_id:
        child = resolve_child(session, child_id)
        return child.child_id if child else None
    condition: Any
    if nhs_number:
        condition = SourceRecord.nhs_number == nhs_number
    elif upn:
        condition = SourceRecord.upn == upn
    else:
        return None
    found = session.scalars(
        select(Link.child_id)
        .join(
            SourceRecord,
            and_(Link.source == SourceRecord.source, Link.record_id == SourceRecord.record_id),
        )
        .where(condition, SourceRecord.is_current.is_(True), Link.state == "MATCH")
        .order_by(Link.child_id)
    ).first()
    if found is None:
        return None
    child = resolve_child(session, found)
    return child.child_id if child else None


def record_restricted(session: Session, source: str, record_id: str) -> bool:
    """Whether what a source record says must be treated as restricted: its own current label,
    or the verdict of the child it is linked to (a label on another of that child's records
    restricts this one too)."""
    record, link, child = SourceRecord.__table__.c, Link.__table__.c, Child.__table__.c
    own = select(record.restricted).where(
        record.source == source, record.record_id == record_id, record.is_current.is_(True)
    )
    linked = (
        select(child.restricted)
        .join(Link.__table__, link.child_id == child.child_id)
        .where(link.source == source, link.record_id == record_id, link.state == "MATCH")
    )
    labels = [*session.scalars(own), *session.scalars(linked)]
    return any(bool(label) for label in labels)
