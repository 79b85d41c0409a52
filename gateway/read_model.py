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

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Text,
    and_,
    bindparam,
    cast,
    exists,
    func,
    literal,
    or_,
    select,
    true,
    tuple_,
    union,
    union_all,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Session

from gateway.model import CanonicalRecord
from gateway.store.tables import Child, HeldIdentifier, HeldRecord, Link, LinkReview, SourceRecord

CHUNK = 500


def restricted_verdict(
    child_id: ColumnElement[Any], links: Any = None, records: Any = None
) -> ColumnElement[bool]:
    """The rule: does any current record linked to ``child_id`` as a MATCH carry a
    restricted label? ``links`` and ``records`` stand in for the link and source-record tables
    (columns of the same names): a replay passes the index as it stood at an instant."""
    links = Link.__table__ if links is None else links
    records = SourceRecord.__table__ if records is None else records
    link, record = links.c, records.c
    return exists(
        select(1)
        .select_from(links)
        .join(
            records,
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
            record.source,
            record.record_id,
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
        found, restricted, merged_into = rows[0][:3]
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
    for child_id, restricted, _merged, payload, *_ in session.connection().execute(query):
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
# validation) and indexed when it is held (``quarantine_identifier``); a record held before it
# could be mapped carries no identifiers this can trust. Both ways of reading a child find the
# candidates with the constructs below and decide with ``notices_of``.
SEARCH_HELD_BY_KEYS = 2000  # up to this many identifier keys: an indexed lookup of each


@dataclass(frozen=True)
class OpenReview:
    """An open review pair: its two records (source, record id) and the day it was opened."""

    left: tuple[str, str]
    right: tuple[str, str]
    since: date


def _identifier_keys(record: CanonicalRecord) -> set[tuple[str, str]]:
    """The identifiers that say a record is a child's: valid NHS number, valid UPN, local ids."""
    return record.identity.identifier_keys()


def _held_candidates() -> Any:
    """Records quarantined by validation (payload as text, the time each was held)."""
    held = HeldRecord.__table__.c
    return select(held.payload, held.created_at.label("since")).where(
        held.status == "quarantined", held.stage == "validation"
    )


def _held_with_keys(keys: Any) -> Any:
    """The quarantined records with one of ``keys`` (rows of kind and value), by the index."""
    index = HeldIdentifier.__table__.c
    return _held_candidates().where(
        HeldRecord.__table__.c.id.in_(
            select(index.held_id).where(tuple_(index.kind, index.value).in_(keys))
        )
    )


def _open_reviews_query() -> Any:
    review = LinkReview.__table__.c
    return select(
        review.left_source,
        review.left_record_id,
        review.right_source,
        review.right_record_id,
        review.created_at.label("since"),
    ).where(review.status == "open")


def held_of_found(found: Any) -> Any:
    """For the one-statement read (PostgreSQL): the quarantined records sharing an identifier
    key with the records of the unmerged child in ``found`` (rows shaped as
    ``CHILD_WITH_RECORDS``'s). A key is looked up by the raw value the record carries; the index
    holds valid keys only, so equal values are the same valid key ``_identifier_keys`` gives,
    and ``notices_of`` decides as for any other candidate."""
    mine = found.c.merged_into.is_(None) & found.c.payload.isnot(None)
    identity = cast(found.c.payload, JSONB)["identity"]
    each_local_id = func.jsonb_each_text(identity["local_ids"]).table_valued("key", "value")
    local_ids = each_local_id.render_derived(name="local_ids").lateral()
    keys = union_all(
        select(literal("nhs"), identity["nhs_number"].astext).where(mine),
        select(literal("upn"), identity["upn"].astext).where(mine),
        select(literal("local:").concat(local_ids.c.key), local_ids.c.value)
        .select_from(found)
        .join(local_ids, true())
        .where(mine),
    )
    return _held_with_keys(keys)


def open_reviews_of_found(found: Any) -> Any:
    """For the one-statement read: the open review pairs one side of which is a record of the
    unmerged child in ``found`` (rows shaped as ``CHILD_WITH_RECORDS``'s)."""
    review = LinkReview.__table__.c
    records = select(found.c.source, found.c.record_id).where(
        found.c.merged_into.is_(None), found.c.payload.isnot(None)
    )
    # One side, then the other: each an indexed lookup (an OR of the two reads every open pair).
    return union(
        _open_reviews_query().where(tuple_(review.left_source, review.left_record_id).in_(records)),
        _open_reviews_query().where(
            tuple_(review.right_source, review.right_record_id).in_(records)
        ),
    )


def held_day(since: datetime) -> date:
    """The day a record was held or a review opened (UTC, whichever way it was read)."""
    return (since.astimezone(UTC) if since.tzinfo else since).date()


def held_record(payload: str, since: datetime) -> tuple[CanonicalRecord, date] | None:
    """A held candidate as ``notices_of`` takes it; None if it is not a canonical record."""
    try:
        return CanonicalRecord.model_validate_json(payload), held_day(since)
    except ValueError:
        return None


def _held_records(
    session: Session, keys: set[tuple[str, str]]
) -> list[tuple[CanonicalRecord, date]]:
    """Quarantined records that are canonical records (with the day each was held) carrying
    one of ``keys``, by the identifier index when there are not too many keys."""
    if not keys:
        return []
    if len(keys) <= SEARCH_HELD_BY_KEYS:
        query = _held_with_keys(sorted(keys))
    else:  # a whole caseload: every record held by validation (a few), filtered in Python
        query = _held_candidates()
    found = (held_record(payload, since) for payload, since in session.execute(query))
    return [f for f in found if f is not None]


def _open_reviews(session: Session, records: set[tuple[str, str]]) -> list[OpenReview]:
    """The open review pairs touching one of ``records`` (all open pairs when there are many)."""
    if not records:
        return []
    query = _open_reviews_query()
    if len(records) <= CHUNK:
        review, keys = LinkReview.__table__.c, sorted(records)
        query = query.where(
            or_(
                tuple_(review.left_source, review.left_record_id).in_(keys),
                tuple_(review.right_source, review.right_record_id).in_(keys),
            )
        )
    return [
        OpenReview((ls, lr), (rs, rr), held_day(at))
        for ls, lr, rs, rr, at in session.execute(query)
    ]


def held_notices(
    session: Session, children: dict[str, list[CanonicalRecord]]
) -> dict[str, list[HeldNotice]]:
    """For each child (by id, with its current records), the records about it held back
    (``notices_of``), read with one indexed query of the held records and one of the open
    review pairs."""
    keys = {k for records in children.values() for r in records for k in _identifier_keys(r)}
    own = {(r.provenance.source, r.provenance.record_id) for rs in children.values() for r in rs}
    return notices_of(children, _held_records(session, keys), _open_reviews(session, own))


def notices_of(
    children: dict[str, list[CanonicalRecord]],
    held: Iterable[tuple[CanonicalRecord, date]],
    reviews: Iterable[OpenReview],
) -> dict[str, list[HeldNotice]]:
    """The rule, for each child (by id, with its current records): the records about it held
    back are a quarantined record sharing one of its identifiers (not a record it already has,
    nor one whose birth date is none of the child's: a sibling's number copied in), and an open
    review pair one side of which is its record (the other side not). ``held`` and ``reviews``
    may hold more candidates than concern these children: only these rules choose."""
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
    for record, since in held:
        mine = (record.provenance.source, record.provenance.record_id)
        born = record.identity.birth_date
        for child_id in set().union(*(owners.get(k, set()) for k in _identifier_keys(record))):
            # A sibling's number copied into the held record: its birth date says so.
            other_child = born is not None and child_id in births and born not in births[child_id]
            if own_records.get(mine) != child_id and not other_child:
                notice = HeldNotice(record.agency, record.provenance.source, since, "held")
                notices.setdefault(child_id, set()).add(notice)
    for child_id, notice in _review_notices(own_records, reviews):
        notices.setdefault(child_id, set()).add(notice)
    return {c: sorted(n, key=lambda n: (n.since, n.agency)) for c, n in notices.items()}


def _review_notices(
    own_records: dict[tuple[str, str], str], reviews: Iterable[OpenReview]
) -> Iterator[tuple[str, HeldNotice]]:
    """(child, notice) for each open review pair touching a child's record: the other record
    is the one that may be the child's."""
    for review, child_id, _mine, other in _review_sides(own_records, reviews):
        yield child_id, HeldNotice(other[0].split("__", 1)[0], other[0], review.since, "review")


def _review_sides(
    own_records: dict[tuple[str, str], str], reviews: Iterable[OpenReview]
) -> Iterator[tuple[OpenReview, str, tuple[str, str], tuple[str, str]]]:
    """(review, child, its record, the other record) for each side of an open review pair
    that is a child's record while the other side is not that child's."""
    for review in reviews:
        for mine, other in ((review.left, review.right), (review.right, review.left)):
            child_id = own_records.get(mine)
            if child_id is not None and own_records.get(other) != child_id:
                yield review, child_id, mine, other


def possible_matches(
    session: Session, children: dict[str, list[CanonicalRecord]]
) -> dict[str, list[tuple[CanonicalRecord, CanonicalRecord]]]:
    """For each child (by id, with its current records), the open review pairs touching it as
    (its record, the current version of the other record): what a person has still to decide
    may be the child's. Never disclosed as such; the caseload weighs only whether the other
    record shows a contact (``gateway.lookup.caseload``)."""
    record_of = {
        (r.provenance.source, r.provenance.record_id): r for rs in children.values() for r in rs
    }
    own = {
        (r.provenance.source, r.provenance.record_id): child_id
        for child_id, rs in children.items()
        for r in rs
    }
    pairs = [
        (child_id, record_of[mine], other)
        for _, child_id, mine, other in _review_sides(own, _open_reviews(session, set(own)))
    ]
    others = _current_records(session, {other for _, _, other in pairs})
    found: dict[str, list[tuple[CanonicalRecord, CanonicalRecord]]] = {}
    for child_id, mine_record, other in pairs:
        if other in others:
            found.setdefault(child_id, []).append((mine_record, others[other]))
    return found


def _current_records(
    session: Session, keys: set[tuple[str, str]]
) -> dict[tuple[str, str], CanonicalRecord]:
    """The current versions of these records (by source and record id), a chunk at a time."""
    record = SourceRecord.__table__.c
    by_source: dict[str, list[str]] = {}
    for source, record_id in keys:
        by_source.setdefault(source, []).append(record_id)
    found: dict[tuple[str, str], CanonicalRecord] = {}
    for source, record_ids in sorted(by_source.items()):
        ordered = sorted(record_ids)
        for start in range(0, len(ordered), CHUNK):
            query = select(record.record_id, cast(record.payload, Text)).where(
                record.source == source,
                record.record_id.in_(ordered[start : start + CHUNK]),
                record.is_current.is_(True),
            )
            for record_id, payload in session.connection().execute(query):
                found[(source, record_id)] = CanonicalRecord.model_validate_json(payload)
    return found
