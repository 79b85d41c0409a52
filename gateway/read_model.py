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
from datetime import date
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Text,
    and_,
    bindparam,
    cast,
    exists,
    or_,
    select,
    true,
    tuple_,
    update,
)
from sqlalchemy.orm import Session

from gateway.identifiers import is_valid_nhs_number, is_valid_upn
from gateway.model import CanonicalRecord
from gateway.store.tables import Child, HeldRecord, Link, LinkReview, SourceRecord

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
class HeldNotice:
    """A record about a child that the index holds back, without its content: which agency
    and source, since when, and why ("held": quarantined for a data-quality check; "review":
    a possible match waiting for a person)."""

    agency: str
    source: str
    since: date
    why: str


@dataclass(frozen=True)
class FoundChild:
    """A child (the survivor, if it was merged), its stored restricted verdict, the current
    versions of its records linked as a MATCH, and the records about it held back."""

    child_id: str
    restricted: bool
    records: list[CanonicalRecord]
    held: tuple[HeldNotice, ...] = ()

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
        held = held_notices(session, {found: records}).get(found, [])
        return FoundChild(found, bool(restricted), records, tuple(held))


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
    held = held_notices(session, {c: records for c, (_, records) in found.items()})
    return [
        FoundChild(c, restricted, records, tuple(held.get(c, ())))
        for c, (restricted, records) in found.items()
    ]


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


# --- Records held back: quarantined records carrying a child's identifiers, open review pairs --

# A held record's identifiers are read from its payload when it is a canonical record (held by
# validation); a record held before it could be mapped carries no identifiers this can trust.
SEARCH_HELD_BY_TEXT = 50  # up to this many identifier values: ask the database for candidates


def _identifier_keys(record: CanonicalRecord) -> set[tuple[str, str]]:
    """The identifiers that say a record is a child's: valid NHS number, valid UPN, local ids."""
    identity = record.identity
    keys = {(f"local:{name}", value) for name, value in identity.local_ids.items() if value}
    if identity.nhs_number and is_valid_nhs_number(identity.nhs_number):
        keys.add(("nhs", identity.nhs_number))
    if identity.upn and is_valid_upn(identity.upn):
        keys.add(("upn", identity.upn))
    return keys


def _held_records(session: Session, values: set[str]) -> list[tuple[CanonicalRecord, date]]:
    """Quarantined records that are canonical records (with the day each was held), narrowed
    to those whose text carries one of ``values`` when there are few."""
    query = select(HeldRecord.payload, HeldRecord.created_at).where(
        HeldRecord.status == "quarantined", HeldRecord.stage == "validation"
    )
    if len(values) <= SEARCH_HELD_BY_TEXT:
        if not values:
            return []
        query = query.where(
            or_(*(HeldRecord.payload.contains(v, autoescape=True) for v in sorted(values)))
        )
    found = []
    for payload, created_at in session.execute(query):
        try:
            found.append((CanonicalRecord.model_validate_json(payload), created_at.date()))
        except ValueError:
            continue
    return found


def held_notices(
    session: Session, children: dict[str, list[CanonicalRecord]]
) -> dict[str, list[HeldNotice]]:
    """For each child (by id, with its current records), the records about it held back:
    a quarantined record sharing one of its identifiers (not a record it already has, nor one
    whose birth date is none of the child's: a sibling's number copied in), and an open review
    pair one side of which is its record."""
    owners: dict[tuple[str, str], set[str]] = {}
    own_records: dict[tuple[str, str], str] = {}
    births: dict[str, set[date]] = {}
    for child_id, records in children.items():
        for record in records:
            own_records[(record.provenance.source, record.provenance.record_id)] = child_id
            if record.identity.birth_date:
                births.setdefault(child_id, set()).add(record.identity.birth_date)
            for key in _identifier_keys(record):
                owners.setdefault(key, set()).add(child_id)
    notices: dict[str, set[HeldNotice]] = {}
    for held, since in _held_records(session, {value for _, value in owners}):
        mine = (held.provenance.source, held.provenance.record_id)
        born = held.identity.birth_date
        for child_id in set().union(*(owners.get(k, set()) for k in _identifier_keys(held))):
            # A sibling's number copied into the held record: its birth date says so.
            other_child = born is not None and child_id in births and born not in births[child_id]
            if own_records.get(mine) != child_id and not other_child:
                notice = HeldNotice(held.agency, held.provenance.source, since, "held")
                notices.setdefault(child_id, set()).add(notice)
    for child_id, source, since in _open_reviews(session, own_records):
        notice = HeldNotice(source.split("__", 1)[0], source, since, "review")
        notices.setdefault(child_id, set()).add(notice)
    return {c: sorted(n, key=lambda n: (n.since, n.agency)) for c, n in notices.items()}


def _open_reviews(
    session: Session, own_records: dict[tuple[str, str], str]
) -> list[tuple[str, str, date]]:
    """(child, the other record's source, since) for each open review pair touching a child's
    record (the other record is the one that may be the child's)."""
    if not own_records:
        return []
    query = select(LinkReview).where(LinkReview.status == "open")
    if len(own_records) <= CHUNK:
        keys = sorted(own_records)
        query = query.where(
            or_(
                tuple_(LinkReview.left_source, LinkReview.left_record_id).in_(keys),
                tuple_(LinkReview.right_source, LinkReview.right_record_id).in_(keys),
            )
        )
    found = []
    for review in session.scalars(query):
        left = (review.left_source, review.left_record_id)
        right = (review.right_source, review.right_record_id)
        for mine, other in ((left, right), (right, left)):
            child_id = own_records.get(mine)
            if child_id is not None and own_records.get(other) != child_id:
                found.append((child_id, other[0], review.created_at.date()))
    return found
