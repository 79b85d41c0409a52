"""The index as it stood at an instant: a child's record versions, links and what was held back.

For a replay (``gateway.policy.replay``): what a lookup at instant T would have read, rebuilt
from the history the index keeps, then handed to the same rules as the live read
(``read_model.restricted_verdict`` run over the tables as they stood; ``read_model.notices_of``
over what was held back then). What "as it stood" means, table by table:

- **Record versions**: each linked record's highest version received by T (``received_at``,
  the time its batch was received: a version loaded some time after its batch arrived counts
  from its arrival).
- **Links and merges**: rebuilt from ``link_event`` up to T, in the order written (link and
  relink by the matcher, the first publish included; a reviewer's accept and the merge it makes;
  unmerge when a decision is reopened). A record's child at T is the ``child_after`` of its last
  event; a child is merged into another by a merge event and parted again by the unmerge of the
  same review. Every writer links as a MATCH, so that is the state. A link with no history at
  all (written before link history, revision 0005, or by hand) is taken as it is now from its
  last update, and the answer says so.
- **Held back**: a record held by validation since before T, unless the audit log shows it
  rejected or its batch released by T (a held record keeps no time of its own for either); a
  review pair opened by T whose last decision by T (accept, reject, reopen: ``link_event``) left
  it open.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import literal, select, true, tuple_, union_all
from sqlalchemy.orm import Session

from gateway.model import CanonicalRecord
from gateway.read_model import (
    FoundChild,
    OpenReview,
    held_day,
    held_record,
    notices_of,
    restricted_verdict,
)
from gateway.store.tables import (
    AuditEntry,
    Child,
    HeldIdentifier,
    HeldRecord,
    Link,
    LinkEvent,
    LinkReview,
    SourceRecord,
)

Key = tuple[str, str]
DECISIONS = ("accept", "reject", "reopen")


@dataclass(frozen=True)
class LinkThen:
    """A record's link to the child at T, and the event that made it (None: no history)."""

    source: str
    record_id: str
    origin: str
    rule: str
    since: datetime | None
    action: str | None


@dataclass(frozen=True)
class VersionThen:
    """The version of a linked record current at T (no content: ids, times and labels)."""

    source: str
    record_id: str
    version: int
    agency: str
    batch_id: str
    received_at: datetime
    restricted: bool
    content_hash: str


@dataclass
class ChildThen:
    """What the index held about a child at T: the child it was (following merges then), the
    children merged into it, its links and record versions, and the read model's view of it
    (``found``: records, restricted verdict, held notices) for the policy point."""

    asked: str
    at: datetime
    child_id: str | None = None
    merged: list[str] = field(default_factory=list)
    links: list[LinkThen] = field(default_factory=list)
    versions: list[VersionThen] = field(default_factory=list)
    found: FoundChild | None = None
    gaps: list[str] = field(default_factory=list)


def utc(at: datetime) -> datetime:
    """An instant in UTC (a naive one is taken as UTC)."""
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def child_as_of(session: Session, child_id: str, at: datetime) -> ChildThen:
    """The child ``child_id`` as the index held it at ``at`` (``child_id`` None if it did not
    exist then)."""
    at = utc(at)
    then = ChildThen(asked=child_id, at=at)
    merged_into = _merges(session, at)
    survivor, seen = child_id, set()
    while survivor in merged_into and survivor not in seen:
        seen.add(survivor)
        survivor = merged_into[survivor]
    child = session.get(Child, survivor)
    if child is None or utc(child.created_at) > at:
        return then
    then.child_id = survivor
    then.merged = sorted(c for c in merged_into if _follow(merged_into, c) == survivor)
    current = session.get(Child, child_id)
    if current is not None and current.merged_into and child_id not in merged_into:
        if not _has_merge_history(session, child_id):
            then.gaps.append(f"{child_id} is merged now, and no merge event says since when")
    then.links = _links(session, survivor, at, then.gaps)
    then.versions, records = _versions(session, then.links, at)
    restricted = _restricted(session, survivor, then.versions)
    held = _held_notices(session, survivor, records, at)
    then.found = FoundChild(survivor, restricted, records, tuple(held))
    return then


def _follow(merged_into: dict[str, str], child_id: str) -> str:
    seen = set()
    while child_id in merged_into and child_id not in seen:
        seen.add(child_id)
        child_id = merged_into[child_id]
    return child_id


def _merges(session: Session, at: datetime) -> dict[str, str]:
    """Each child merged into another at ``at``: retired id -> the id it was merged into."""
    merged: dict[str, str] = {}
    by_review: dict[str, int | None] = {}
    events = session.execute(
        select(LinkEvent.action, LinkEvent.child_before, LinkEvent.child_after, LinkEvent.review_id)
        .where(LinkEvent.action.in_(("merge", "unmerge")), LinkEvent.at <= at)
        .order_by(LinkEvent.id)
    )
    for action, before, after, review_id in events:
        if action == "merge" and before and after and before != after:
            merged[before], by_review[before] = after, review_id
        elif action == "unmerge" and after in merged and by_review.get(after) == review_id:
            del merged[after]
    return merged


def _has_merge_history(session: Session, child_id: str) -> bool:
    query = select(LinkEvent.id).where(
        LinkEvent.action == "merge", LinkEvent.child_before == child_id
    )
    return session.scalars(query.limit(1)).first() is not None


def _links(session: Session, child_id: str, at: datetime, gaps: list[str]) -> list[LinkThen]:
    """The records linked to ``child_id`` at ``at``: those whose last event by then put them
    there, and those with no history at all that are linked to it now (gaps named)."""
    touched = select(LinkEvent.source, LinkEvent.record_id).where(
        LinkEvent.child_after == child_id, LinkEvent.at <= at, LinkEvent.source.is_not(None)
    )
    keys: set[Key] = {(str(s), str(r)) for s, r in session.execute(touched.distinct())}
    last: dict[Key, Any] = {}
    for chunk in _chunks(sorted(keys)):
        events = session.execute(
            select(LinkEvent)
            .where(tuple_(LinkEvent.source, LinkEvent.record_id).in_(chunk), LinkEvent.at <= at)
            .order_by(LinkEvent.id)
        ).scalars()
        for event in events:
            last[(str(event.source), str(event.record_id))] = event
    links = [_link_of(event) for event in last.values() if event.child_after == child_id]
    links.extend(_links_without_history(session, child_id, at, gaps))
    return sorted(links, key=lambda link: (link.source, link.record_id))


def _link_of(event: LinkEvent) -> LinkThen:
    """The link an event left: a reviewer's accept makes it MANUAL; otherwise as recorded."""
    assert event.source is not None and event.record_id is not None
    if event.action == "accept":
        origin, rule = "MANUAL", "manual"
    else:
        origin, rule = event.origin or "AUTO", event.rule or ""
    return LinkThen(event.source, event.record_id, origin, rule, utc(event.at), event.action)


def _links_without_history(
    session: Session, child_id: str, at: datetime, gaps: list[str]
) -> Iterable[LinkThen]:
    """Links to the child now that no event ever touched: taken as they are, from their last
    update (the history cannot say more)."""
    any_event = select(LinkEvent.id).where(
        LinkEvent.source == Link.source, LinkEvent.record_id == Link.record_id
    )
    rows = session.scalars(
        select(Link).where(Link.child_id == child_id, ~any_event.exists(), Link.state == "MATCH")
    )
    for link in rows:
        if utc(link.updated_at) > at:
            continue
        gaps.append(
            f"the link of {link.source}/{link.record_id} has no history: taken as it is now"
        )
        yield LinkThen(link.source, link.record_id, link.origin, link.rule, None, None)


def _versions(
    session: Session, links: list[LinkThen], at: datetime
) -> tuple[list[VersionThen], list[CanonicalRecord]]:
    """Each linked record's highest version received by ``at``, and its canonical record."""
    keys = [(link.source, link.record_id) for link in links]
    best: dict[Key, SourceRecord] = {}
    for chunk in _chunks(keys):
        rows = session.scalars(
            select(SourceRecord).where(
                tuple_(SourceRecord.source, SourceRecord.record_id).in_(chunk),
                SourceRecord.received_at <= at,
            )
        )
        for row in rows:
            key = (row.source, row.record_id)
            if key not in best or row.version > best[key].version:
                best[key] = row
    chosen = [best[k] for k in sorted(best)]
    versions = [
        VersionThen(
            r.source,
            r.record_id,
            r.version,
            r.agency,
            r.batch_id,
            utc(r.received_at),
            bool(r.restricted),
            r.content_hash,
        )
        for r in chosen
    ]
    return versions, [CanonicalRecord.model_validate(r.payload) for r in chosen]


def _restricted(session: Session, child_id: str, versions: list[VersionThen]) -> bool:
    """The read model's rule (``restricted_verdict``) run over the links and record versions
    as they stood: the most restrictive label of any record then linked wins."""
    if not versions:
        return False  # no record, no label
    links = union_all(
        *(
            select(
                literal(child_id).label("child_id"),
                literal(v.source).label("source"),
                literal(v.record_id).label("record_id"),
                literal("MATCH").label("state"),
            )
            for v in versions
        )
    ).subquery("link_then")
    wanted = [(v.source, v.record_id, v.version) for v in versions]
    records = (
        select(
            SourceRecord.source,
            SourceRecord.record_id,
            SourceRecord.restricted,
            true().label("is_current"),
        )
        .where(
            tuple_(SourceRecord.source, SourceRecord.record_id, SourceRecord.version).in_(wanted)
        )
        .subquery("record_then")
    )
    return bool(session.scalar(select(restricted_verdict(literal(child_id), links, records))))


def _held_notices(
    session: Session, child_id: str, records: list[CanonicalRecord], at: datetime
) -> list[Any]:
    """The read model's rule (``notices_of``) over what was held back at ``at``."""
    if not records:
        return []
    keys = sorted({k for r in records for k in r.identity.identifier_keys()})
    own = {(r.provenance.source, r.provenance.record_id) for r in records}
    held = _held_then(session, keys, at) if keys else []
    reviews = _reviews_then(session, own, at)
    return notices_of({child_id: records}, held, reviews).get(child_id, [])


def _held_then(
    session: Session, keys: list[tuple[str, str]], at: datetime
) -> list[tuple[CanonicalRecord, Any]]:
    index = HeldIdentifier.__table__.c
    rows = session.execute(
        select(HeldRecord.id, HeldRecord.batch_id, HeldRecord.payload, HeldRecord.created_at).where(
            HeldRecord.stage == "validation",
            HeldRecord.created_at <= at,
            HeldRecord.id.in_(
                select(index.held_id).where(tuple_(index.kind, index.value).in_(keys))
            ),
        )
    ).all()
    if not rows:
        return []
    ended = _ended_by(session, at)
    found = (
        held_record(payload, since)
        for held_id, batch_id, payload, since in rows
        if f"held:{held_id}" not in ended and f"batch:{batch_id}" not in ended
    )
    return [f for f in found if f is not None]


def _ended_by(session: Session, at: datetime) -> set[str]:
    """What the audit log shows no longer held by ``at``: held records rejected (``held:ID``)
    and batches released (``batch:ID``)."""
    rows = session.execute(
        select(AuditEntry.fields_disclosed, AuditEntry.fields_refused).where(
            AuditEntry.action.in_(("quarantine_reject", "quarantine_release")),
            AuditEntry.at <= at,
        )
    )
    return {name for shown, refused in rows for name in [*shown, *refused]}


def _reviews_then(session: Session, own: set[Key], at: datetime) -> list[OpenReview]:
    """The review pairs touching ``own`` that were open at ``at``."""
    review = LinkReview.__table__.c
    keys = sorted(own)
    pairs = session.execute(
        select(
            review.id,
            review.left_source,
            review.left_record_id,
            review.right_source,
            review.right_record_id,
            review.created_at,
        ).where(
            review.created_at <= at,
            tuple_(review.left_source, review.left_record_id).in_(keys)
            | tuple_(review.right_source, review.right_record_id).in_(keys),
        )
    ).all()
    if not pairs:
        return []
    decided: dict[int, str] = {}
    events = session.execute(
        select(LinkEvent.review_id, LinkEvent.action)
        .where(
            LinkEvent.review_id.in_([p[0] for p in pairs]),
            LinkEvent.action.in_(DECISIONS),
            LinkEvent.at <= at,
        )
        .order_by(LinkEvent.id)
    )
    for review_id, action in events:
        if review_id is not None:
            decided[review_id] = action
    return [
        OpenReview((ls, lr), (rs, rr), held_day(since))
        for rid, ls, lr, rs, rr, since in pairs
        if decided.get(rid, "reopen") == "reopen"
    ]


def _chunks(keys: list[Any], size: int = 500) -> list[list[Any]]:
    return [keys[i : i + size] for i in range(0, len(keys), size)]
