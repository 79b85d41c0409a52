"""Incremental linking: which records a link run has to look at again.

A record is new or changed when its current version is a source record row above the last link
run's high-water mark, or when its source merged it (HL7 A40) since. Its candidate neighbours
come from ``link_key`` by an indexed lookup of its blocking keys; those it shares an identifier
with, or that the model scores at or above the lower threshold with it, are in scope, and so is
every record already linked to the same child as anything in scope. The caller re-resolves the
scope exactly as a full run would, so the cost grows with the batch, not with the index.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, and_, exists, or_, select
from sqlalchemy.orm import Session

from gateway.linkage.blocking import blocking_keys, is_rule_key
from gateway.linkage.clustering import LinkCandidate
from gateway.linkage.probabilistic import PersonRow, score_between
from gateway.store.tables import Link, LinkEvent, LinkKey, LinkMark, LinkReview, SourceRecord

log = logging.getLogger(__name__)
Key = tuple[str, str]
CHUNK = 500
T = TypeVar("T")


def chunks(items: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def with_keys(source: Any, record_id: Any, keys: Iterable[Key]) -> Iterator[ColumnElement[bool]]:
    """Conditions picking the records with these keys, a chunk at a time: one source and a list
    of its record ids each, which an index on (source, record_id) serves. (SQLite scans the
    whole table for a list of (source, record_id) pairs.)"""
    by_source: dict[str, list[str]] = defaultdict(list)
    for key_source, key_record in keys:
        by_source[key_source].append(key_record)
    for name, record_ids in sorted(by_source.items()):
        for part in chunks(sorted(record_ids)):
            yield and_(source == name, record_id.in_(part))


def changed_records(session: Session, mark: LinkMark) -> set[Key]:
    """Current records above the high-water mark, and merged records not yet linked as such."""
    rows = session.execute(
        select(SourceRecord.source, SourceRecord.record_id).where(
            SourceRecord.id > mark.last_source_row, SourceRecord.is_current.is_(True)
        )
    )
    changed: set[Key] = {(source, record_id) for source, record_id in rows}
    changed |= _unlinked(session) | _touched_by_people(session, mark)
    merged = session.execute(
        select(
            SourceRecord.source, SourceRecord.record_id, SourceRecord.merged_into_record_id
        ).where(SourceRecord.is_current.is_(True), SourceRecord.merged_into_record_id.is_not(None))
    ).all()
    wanted = {(f"m:{s}|{into}", s, r) for s, r, into in merged if (s, r) not in changed}
    known: set[tuple[str, str, str]] = set()
    for part in chunks(sorted({k for k, _, _ in wanted})):
        query = select(LinkKey.key, LinkKey.source, LinkKey.record_id).where(LinkKey.key.in_(part))
        known.update(session.execute(query).tuples())
    changed.update((s, r) for key, s, r in wanted - known)
    return changed


def _unlinked(session: Session) -> set[Key]:
    """Current records with no link (the links were cleared, or a link run failed half-way)."""
    linked = exists().where(
        Link.source == SourceRecord.source, Link.record_id == SourceRecord.record_id
    )
    query = select(SourceRecord.source, SourceRecord.record_id).where(
        SourceRecord.is_current.is_(True), ~linked
    )
    return {(s, r) for s, r in session.execute(query).tuples()}


def _touched_by_people(session: Session, mark: LinkMark) -> set[Key]:
    """Records a reviewer or an officer decided on since the last run (accept, reject, reopen,
    manual link changes): their decisions bind the matcher, so they are linked again."""
    since = LinkEvent.at > mark.linked_at
    manual = select(LinkEvent.source, LinkEvent.record_id).where(
        since, LinkEvent.actor.is_not(None), LinkEvent.source.is_not(None)
    )
    touched: set[Key] = {(s, r) for s, r in session.execute(manual).tuples() if s and r}
    reviewed = select(LinkEvent.review_id).where(
        since, LinkEvent.actor.is_not(None), LinkEvent.review_id.is_not(None)
    )
    query = select(LinkReview).where(
        or_(LinkReview.decided_at > mark.linked_at, LinkReview.id.in_(reviewed))
    )
    for review in session.scalars(query):
        touched.add((review.left_source, review.left_record_id))
        touched.add((review.right_source, review.right_record_id))
    return touched


def neighbours(session: Session, keys: Iterable[str]) -> dict[Key, set[str]]:
    """Linked records sharing any of the keys, with the keys they share."""
    found: dict[Key, set[str]] = defaultdict(set)
    for part in chunks(sorted(set(keys))):
        query = select(LinkKey.source, LinkKey.record_id, LinkKey.key).where(LinkKey.key.in_(part))
        for source, record_id, key in session.execute(query):
            found[(source, record_id)].add(key)
    return found


def same_children(session: Session, records: set[Key]) -> set[Key]:
    """Every record linked to a child that any of the records is linked to."""
    child_ids: set[str] = set()
    for condition in with_keys(Link.source, Link.record_id, records):
        child_ids.update(session.scalars(select(Link.child_id).where(condition)))
    members = set(records)
    for ids in chunks(sorted(child_ids)):
        rows = session.execute(
            select(Link.source, Link.record_id).where(Link.child_id.in_(ids))
        ).tuples()
        members.update((s, r) for s, r in rows)
    return members


def in_scope(
    new: tuple[list[LinkCandidate], list[PersonRow]],
    near: tuple[list[LinkCandidate], list[PersonRow]],
    shared: dict[Key, set[str]],
    model: Path | None,
) -> set[Key]:
    """The new records, and the neighbours that share an identifier or score as a possible
    match with one of them."""
    scope = {c.key for c in new[0]}
    scope.update(key for key, keys in shared.items() if any(is_rule_key(k) for k in keys))
    if model is not None:
        for pair in score_between(new[1], near[1], model):
            scope.update((pair.left, pair.right))
    return scope


def record_keys(
    candidates: Sequence[LinkCandidate], people: Sequence[PersonRow]
) -> Iterator[dict[str, str]]:
    """The ``link_key`` rows of the records, one at a time (millions on a full run)."""
    for c, p in zip(candidates, people, strict=True):
        for key in sorted(blocking_keys(c, p)):
            yield {"key": key, "source": c.source, "record_id": c.record_id}
