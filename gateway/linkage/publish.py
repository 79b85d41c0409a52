"""Publish linkage into the index: stable child ids, one link per source record.

A cluster keeps the child id its records already had; a new cluster gets an id derived from
its earliest record, so re-running from scratch gives the same ids. When a cluster joins
children that were apart, the oldest id survives and the others redirect to it. Manual links
are never changed here.
"""

from __future__ import annotations

import logging
import uuid
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Table, delete, func, insert, select, text, update
from sqlalchemy.orm import Session

from gateway.linkage.blocking import KEYS_VERSION, blocking_keys
from gateway.linkage.clustering import Cluster, LinkCandidate, Pair
from gateway.linkage.incremental import (
    Key,
    changed_records,
    chunks,
    in_scope,
    neighbours,
    record_keys,
    same_children,
    with_keys,
)
from gateway.linkage.probabilistic import (
    PersonRow,
    ScoredPair,
    current_model,
    person_from_identity,
    train_model,
)
from gateway.linkage.resolution import Resolution, resolve
from gateway.read_model import refresh_restricted
from gateway.store import pg_bulk
from gateway.store.engine import session_factory
from gateway.store.tables import (
    Child,
    Link,
    LinkEvent,
    LinkKey,
    LinkMark,
    LinkReview,
    SourceRecord,
)
from gateway.store.tables.base import utcnow

log = logging.getLogger(__name__)
NAMESPACE = uuid.UUID("6f1c1e1e-5b1a-4c1e-9a63-2f0e3c9d7a11")
BATCH = 20_000  # rows a bulk write sends at once


@dataclass(frozen=True)
class LinkRow:
    """What a record's link holds now."""

    child_id: str
    origin: str
    rule: str
    evidence: dict[str, Any]


@dataclass
class Writes:
    """What a run writes, sent in batches as it is worked out (children before their links)."""

    session: Session
    new_children: list[dict[str, Any]] = field(default_factory=list)
    new_links: list[dict[str, Any]] = field(default_factory=list)
    changed_links: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    children_added: int = 0
    links_changed: int = 0

    def send(self, *, at_least: int = 0) -> None:
        """Send what is waiting, if there are at least ``at_least`` rows."""
        waiting = (self.new_children, self.new_links, self.changed_links, self.events)
        if sum(len(rows) for rows in waiting) < max(at_least, 1):
            return
        self.children_added += len(self.new_children)
        self.links_changed += len(self.new_links) + len(self.changed_links)
        _insert(self.session, _table(Child), self.new_children)
        _insert(self.session, _table(Link), self.new_links)
        _bulk(self.session, update(Link), self.changed_links)
        _insert(self.session, _table(LinkEvent), self.events)
        for rows in waiting:
            rows.clear()


@dataclass
class ChildRow:
    """What a child holds now, and whether this run changed it."""

    created_at: datetime
    merged_into: str | None
    changed: bool = False


@dataclass(frozen=True)
class LinkSummary:
    records: int
    children: int
    new_children: int
    merged_children: int
    links_changed: int
    new_reviews: int = 0
    incremental: bool = False


def child_id_for(cluster: Cluster) -> str:
    source, record_id = cluster.key
    return "C-" + uuid.uuid5(NAMESPACE, f"{source}/{record_id}").hex[:16]


def link_children(index_url: str | None = None, *, full: bool = False) -> LinkSummary:
    """Link the records that are new or changed since the last run (all of them on the first
    run, with ``full``, or after retraining), and write children and links in one transaction."""
    started = utcnow()  # the mark's time: a decision made during the run is seen by the next
    with session_factory(index_url).begin() as session:
        _roomy_cache(session)
        model = current_model()
        mark = session.get(LinkMark, 1)
        top = session.scalar(select(func.max(SourceRecord.id))) or 0
        incremental = not full and mark is not None and mark.model == _model_name(model)
        scoped = _scope(session, mark, model) if incremental and mark else None
        scope = scoped.records if scoped else None
        candidates, people = scoped.read(session) if scoped else read_candidates(session)
        existing = _links(session, scope)
        children = _children(session, existing, scope)
        together, apart = decisions(session)
        resolution = resolve(candidates, people, model, together=together, apart=apart)
        reviews = _queue_for_review(session, resolution, model)
        new_children, merged, changed = _publish(
            session, resolution.clusters, existing, children, all_children=scope is None
        )
        # A record's keys follow from its own fields: only the new and changed ones' differ.
        _store_keys(session, candidates, people, scoped.changed if scoped else None)
        _set_mark(session, mark, top, model, started)
        session.flush()
    summary = LinkSummary(
        len(candidates),
        len(resolution.clusters),
        new_children,
        merged,
        changed,
        reviews,
        incremental,
    )
    log.info(
        "linkage (%s): %d records in %d children (%d new, %d merged), %d links changed, "
        "%d new possible matches for review (model %s)",
        "incremental" if incremental else "full",
        summary.records,
        summary.children,
        summary.new_children,
        summary.merged_children,
        summary.links_changed,
        summary.new_reviews,
        model.stem if model else "none: deterministic rules only",
    )
    return summary


def _model_name(model: Path | None) -> str:
    """What the mark records a run was linked with: the model and the blocking keys' version."""
    return f"{model.stem if model else ''}/{KEYS_VERSION}"


@dataclass
class Scope:
    """What an incremental run re-resolves: ``records``, of which ``changed`` are new or
    changed since the last run, and the records already read on the way (read once)."""

    records: set[Key]
    changed: set[Key]
    read_already: dict[Key, tuple[LinkCandidate, PersonRow]]

    def read(self, session: Session) -> tuple[list[LinkCandidate], list[PersonRow]]:
        """The scope's current records, in key order: those not read yet, read now."""
        missing = self.records - set(self.read_already)
        found = dict(self.read_already)
        found.update(
            (c.key, (c, p)) for c, p in zip(*read_candidates(session, missing), strict=True)
        )
        wanted = sorted(key for key in self.records if key in found)
        return [found[key][0] for key in wanted], [found[key][1] for key in wanted]


def _scope(session: Session, mark: LinkMark, model: Path | None) -> Scope:
    """The records an incremental run re-resolves (see ``gateway.linkage.incremental``)."""
    changed = changed_records(session, mark)
    if not changed:
        return Scope(set(), set(), {})
    new_candidates, new_people = read_candidates(session, changed)
    keys = {k for c, p in zip(new_candidates, new_people, strict=True) for k in blocking_keys(c, p)}
    shared = neighbours(session, keys)
    for key in changed:
        shared.pop(key, None)
    near_candidates, near_people = read_candidates(session, set(shared))
    scope = in_scope((new_candidates, new_people), (near_candidates, near_people), shared, model)
    read = {
        c.key: (c, p)
        for c, p in zip(new_candidates + near_candidates, new_people + near_people, strict=True)
    }
    return Scope(same_children(session, scope), changed, read)


def _publish(
    session: Session,
    clusters: list[Cluster],
    existing: dict[Key, LinkRow],
    children: dict[str, ChildRow],
    *,
    all_children: bool,
) -> tuple[int, int, int]:
    """Write each cluster's child and links: (new children, merged children, links changed),
    then set the restricted verdict of every child this touched (``read_model``'s one rule).

    Written in bulk, a batch at a time: a row at a time through the ORM took minutes for a
    hundred thousand records. ``all_children``: ``children`` holds every child in
    the index, so an id not in it is new without asking the database.
    """
    now = utcnow()
    claimed: set[str] = set()
    chosen = []
    for cluster in clusters:
        child_id, retired = _choose_child(cluster, existing, children, claimed)
        claimed.add(child_id)
        chosen.append((cluster, child_id, retired))
    if not all_children:
        children.update(_known_children(session, {c for _, c, _ in chosen} - set(children)))
    writes = Writes(session)
    merged = 0
    for cluster, child_id, retired in chosen:
        if child_id not in children:
            children[child_id] = ChildRow(created_at=now, merged_into=None)
            writes.new_children.append(
                {"child_id": child_id, "created_at": now, "restricted": False}
            )
        for old in retired:
            children[old].merged_into, children[old].changed = child_id, True
            writes.events.append(_event("merge", None, at=now, before=old, after=child_id))
            merged += 1
        _plan_links(cluster, child_id, existing, writes, now)
        writes.send(at_least=BATCH)
    writes.send()
    updates = [
        {"child_id": child_id, "merged_into": row.merged_into}
        for child_id, row in children.items()
        if row.changed
    ]
    _bulk(session, update(Child), updates)
    session.flush()
    touched = {child_id for _, child_id, _ in chosen}
    touched.update(old for _, _, retired in chosen for old in retired)
    refresh_restricted(session, None if all_children else touched)
    return writes.children_added, merged, writes.links_changed


def _bulk(session: Session, statement: Any, rows: list[dict[str, Any]]) -> None:
    """Run an insert, or an ORM update by primary key, for the rows, a batch at a time."""
    for start in range(0, len(rows), BATCH):
        session.execute(statement, rows[start : start + BATCH])


def _insert(session: Session, table: Table, rows: list[dict[str, Any]]) -> None:
    """Insert the rows: COPY on PostgreSQL (a full run writes a link and an event a record),
    batched inserts on SQLite."""
    if pg_bulk.on_postgresql(session):
        pg_bulk.copy_dicts(session, table, rows)
    else:
        _bulk(session, insert(table), rows)


def _table(model: type[Any]) -> Table:
    """The model's table: Core inserts send many rows without the ORM's work per row."""
    return cast(Table, model.__table__)


def _known_children(session: Session, child_ids: set[str]) -> dict[str, ChildRow]:
    """Children already in the index among ``child_ids`` (an incremental run read only those
    its records were linked to)."""
    known: dict[str, ChildRow] = {}
    for part in chunks(sorted(child_ids)):
        query = select(Child.child_id, Child.created_at, Child.merged_into)
        for child_id, created_at, merged_into in session.execute(
            query.where(Child.child_id.in_(part))
        ):
            known[child_id] = ChildRow(created_at, merged_into)
    return known


def _links(session: Session, scope: set[Key] | None) -> dict[Key, LinkRow]:
    query = select(
        Link.source, Link.record_id, Link.child_id, Link.origin, Link.rule, Link.evidence
    )
    if scope is None:
        rows: Iterable[Any] = session.execute(query)
    else:
        rows = (
            row
            for condition in with_keys(Link.source, Link.record_id, scope)
            for row in session.execute(query.where(condition))
        )
    return {
        (s, r): LinkRow(child_id, origin, rule, ev) for s, r, child_id, origin, rule, ev in rows
    }


def _children(
    session: Session, existing: dict[Key, LinkRow], scope: set[Key] | None
) -> dict[str, ChildRow]:
    if scope is None:
        query = select(Child.child_id, Child.created_at, Child.merged_into)
        return {c: ChildRow(at, into) for c, at, into in session.execute(query)}
    return _known_children(session, {link.child_id for link in existing.values()})


def _store_keys(
    session: Session,
    candidates: list[LinkCandidate],
    people: list[PersonRow],
    only: set[Key] | None,
) -> None:
    """Replace the blocking keys of every record (a full run), or of ``only`` these: a record's
    keys follow from its own fields, so an incremental run rewrites those of the new and
    changed records, not of the neighbours it re-resolved with them.

    A full run writes millions of keys: its indexes are built once after them (a sort), not
    kept up to date key by key (a random B-tree insert each).
    """
    table = _table(LinkKey)
    indexes = sorted(table.indexes, key=lambda index: str(index.name)) if only is None else []
    if only is None:
        session.execute(delete(LinkKey))
    else:
        for condition in with_keys(LinkKey.source, LinkKey.record_id, only):
            session.execute(delete(LinkKey).where(condition))
        kept = [n for n, c in enumerate(candidates) if c.key in only]
        candidates, people = [candidates[n] for n in kept], [people[n] for n in kept]
    for index in indexes:
        index.drop(session.connection())
    _write_keys(session, table, record_keys(candidates, people))
    for index in indexes:
        index.create(session.connection())


KEY_COLUMNS = ("key", "source", "record_id")


def _write_keys(session: Session, table: Table, rows: Iterable[dict[str, str]]) -> None:
    """Write ``link_key`` rows in their order: COPY on PostgreSQL (a full run writes about a
    dozen a record, millions), batched inserts on SQLite."""
    if pg_bulk.on_postgresql(session):
        values = (tuple(row[c] for c in KEY_COLUMNS) for row in rows)
        pg_bulk.copy_rows(session, table.name, values, KEY_COLUMNS)
        return
    for batch in _batches(rows):
        session.execute(insert(table), batch)


def _roomy_cache(session: Session) -> None:
    """Give SQLite a page cache to suit a link run (256 MB rather than 2 MB): its writes touch
    indexes all over a large file. PostgreSQL sizes its own."""
    if session.get_bind().dialect.name == "sqlite":
        session.execute(text("PRAGMA cache_size = -262144"))


def _batches(rows: Iterable[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) == BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def _set_mark(
    session: Session, mark: LinkMark | None, top: int, model: Path | None, started: datetime
) -> None:
    """Where this run began: source rows above ``top``, and reviewers' decisions after
    ``started``, are the next run's to link."""
    if mark is None:
        mark = LinkMark(id=1)
        session.add(mark)
    mark.last_source_row, mark.model, mark.linked_at = top, _model_name(model), started


def read_candidates(
    session: Session, scope: set[Key] | None = None
) -> tuple[list[LinkCandidate], list[PersonRow]]:
    """The current source records (those in ``scope`` if given), in key order.

    Read through the session's connection (the ORM's work per row is for objects; these are
    plain rows), each row made into its candidate and person as it comes, so the identities
    read (JSON documents) are not all held at once as rows. (A server-side cursor, fetching a
    batch at a time, held less again but took more than twice as long on PostgreSQL.)
    """
    query = select(
        SourceRecord.source,
        SourceRecord.record_id,
        SourceRecord.nhs_number,
        SourceRecord.upn,
        SourceRecord.payload["identity"],  # only what linkage reads of the payload
        SourceRecord.merged_into_record_id,
    ).where(SourceRecord.is_current.is_(True))
    connection = session.connection()
    if scope is None:
        read = [_candidate_and_person(row) for row in connection.execute(query)]
    else:
        read = [
            _candidate_and_person(row)
            for condition in with_keys(SourceRecord.source, SourceRecord.record_id, scope)
            for row in connection.execute(query.where(condition))
        ]
    read.sort(key=lambda pair: pair[0].key)
    return [candidate for candidate, _ in read], [person for _, person in read]


def _candidate_and_person(row: Any) -> tuple[LinkCandidate, PersonRow]:
    source, record_id, nhs, upn, identity_or_none, merged_into = row
    identity = identity_or_none or {}
    local_ids = tuple(sorted(identity.get("local_ids", {}).items()))
    candidate = LinkCandidate(source, record_id, nhs, upn, local_ids, merged_into)
    return candidate, person_from_identity(candidate.key, identity, nhs, upn)


def _queue_for_review(session: Session, resolution: Resolution, model: Path | None) -> int:
    """Pairs that linkage left apart go to the review queue, once: identifier matches their
    demographics contradict (the conflict named), then pairs between the thresholds."""
    cluster_of = {m.key: n for n, c in enumerate(resolution.clusters) for m in c.members}
    conflicts = [(c.pair, c.conflict) for c in resolution.conflicts]
    scored: list[tuple[ScoredPair, str | None]] = [*conflicts]
    scored.extend((pair, None) for pair in resolution.scored)
    query = select(
        LinkReview.left_source,
        LinkReview.left_record_id,
        LinkReview.right_source,
        LinkReview.right_record_id,
    )
    known = {((a, b), (c, d)) for a, b, c, d in session.execute(query)}
    now = utcnow()
    rows = []
    for pair, conflict in scored:
        if cluster_of.get(pair.left) == cluster_of.get(pair.right):
            continue
        left, right = sorted((pair.left, pair.right))
        if (left, right) in known:
            continue
        known.add((left, right))
        rows.append(
            {
                "left_source": left[0],
                "left_record_id": left[1],
                "right_source": right[0],
                "right_record_id": right[1],
                "probability": pair.probability,
                "match_weights": pair.weights,
                "model": model.stem if model else "",
                "status": "open",
                "created_at": now,
                "conflict": conflict,
            }
        )
    _bulk(session, insert(_table(LinkReview)), rows)
    return len(rows)


def _choose_child(
    cluster: Cluster,
    existing: dict[Key, LinkRow],
    children: dict[str, ChildRow],
    claimed: set[str],
) -> tuple[str, list[str]]:
    """The surviving child id for a cluster, and the ids it retires by merging."""
    if not existing or not any(m.key in existing for m in cluster.members):
        return child_id_for(cluster), []  # no record of it linked yet: a new child
    manual = [
        existing[m.key].child_id
        for m in cluster.members
        if m.key in existing and existing[m.key].origin == "MANUAL"
    ]
    held = Counter(existing[m.key].child_id for m in cluster.members if m.key in existing)
    options = [c for c in (manual or list(held)) if c not in claimed]
    if not options:
        return child_id_for(cluster), []
    # A child held by a record its source retired (HL7 A40) gives way to its survivor's child.
    retired_only = {
        existing[m.key].child_id for m in cluster.members if m.merged_into and m.key in existing
    } - {
        existing[m.key].child_id for m in cluster.members if m.key in existing and not m.merged_into
    }
    options.sort(key=lambda c: (c in retired_only, children[c].created_at, c))
    survivor = options[0]
    retired = [c for c in options[1:] if c in children and not manual]
    return survivor, retired


def _plan_links(
    cluster: Cluster, child_id: str, existing: dict[Key, LinkRow], writes: Writes, now: datetime
) -> None:
    """The cluster's new and changed links, each with its history row; manual links stay."""
    size = len(cluster.members)
    for member in cluster.members:
        rule = cluster.rules[member.key]
        link = existing.get(member.key)
        if link is not None and link.origin == "MANUAL":
            continue
        evidence = {"rule": rule, "cluster_size": size, **cluster.evidence.get(member.key, {})}
        if link is not None and (link.child_id, link.rule, link.evidence) == (
            child_id,
            rule,
            evidence,
        ):
            continue
        row = {
            "source": member.source,
            "record_id": member.record_id,
            "child_id": child_id,
            "state": "MATCH",
            "rule": rule,
            "evidence": evidence,
            "updated_at": now,
        }
        before = link.child_id if link is not None else None
        action = "link" if link is None else "relink"
        event = _event(action, member.key, at=now, before=before, after=child_id, rule=rule)
        writes.events.append({**event, "origin": "AUTO", "evidence": evidence})
        if link is None:
            writes.new_links.append({**row, "origin": "AUTO"})
        else:
            writes.changed_links.append(row)


def _event(
    action: str,
    key: Key | None,
    *,
    at: datetime,
    before: str | None,
    after: str,
    rule: str | None = None,
) -> dict[str, Any]:
    """A history row: a link made or changed by the matcher (what it was is kept), or a merge
    of two children (``before`` retired into ``after``)."""
    return {
        "at": at,
        "action": action,
        "source": key[0] if key else None,
        "record_id": key[1] if key else None,
        "child_before": before,
        "child_after": after,
        "origin": None,
        "rule": rule,
        "evidence": {},
        "review_id": None,
        "actor": None,
    }


def decisions(session: Session) -> tuple[list[Pair], list[Pair]]:
    """Reviewers' decisions: pairs accepted as one child, and pairs rejected (two children)."""
    together: list[Pair] = []
    apart: list[Pair] = []
    query = select(LinkReview).where(LinkReview.status.in_(("accepted", "rejected")))
    for review in session.scalars(query):
        pair = (
            (review.left_source, review.left_record_id),
            (review.right_source, review.right_record_id),
        )
        (together if review.status == "accepted" else apart).append(pair)
    return together, apart


def train_on_index(index_url: str | None = None) -> Path:
    """Train a new model version on every current source record in the index."""
    with session_factory(index_url)() as session:
        _, people = read_candidates(session)
    return train_model(people)


def open_reviews(index_url: str | None = None) -> list[LinkReview]:
    with session_factory(index_url)() as session:
        query = select(LinkReview).where(LinkReview.status == "open")
        return list(session.scalars(query.order_by(LinkReview.probability.desc(), LinkReview.id)))
