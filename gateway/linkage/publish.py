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
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func, insert, select, tuple_
from sqlalchemy.orm import Session

from gateway.linkage.blocking import blocking_keys
from gateway.linkage.clustering import Cluster, LinkCandidate, Pair
from gateway.linkage.incremental import (
    Key,
    changed_records,
    chunks,
    in_scope,
    neighbours,
    record_keys,
    same_children,
)
from gateway.linkage.probabilistic import PersonRow, ScoredPair, current_model, train_model
from gateway.linkage.resolution import resolve
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
        model = current_model()
        mark = session.get(LinkMark, 1)
        top = session.scalar(select(func.max(SourceRecord.id))) or 0
        incremental = not full and mark is not None and mark.model == _model_name(model)
        scope = _scope(session, mark, model) if incremental and mark else None
        candidates, people, restricted = read_candidates(session, scope)
        existing = _links(session, scope)
        children = _children(session, existing, scope)
        together, apart = decisions(session)
        resolution = resolve(candidates, people, model, together=together, apart=apart)
        reviews = _queue_for_review(session, resolution.clusters, resolution.scored, model)
        new_children, merged, changed = _publish(
            session, resolution.clusters, existing, children, restricted
        )
        _store_keys(session, candidates, people, scope)
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
    return model.stem if model else ""


def _scope(session: Session, mark: LinkMark, model: Path | None) -> set[Key]:
    """The records an incremental run re-resolves (see ``gateway.linkage.incremental``)."""
    changed = changed_records(session, mark)
    if not changed:
        return set()
    new_candidates, new_people, _ = read_candidates(session, changed)
    keys = {k for c, p in zip(new_candidates, new_people, strict=True) for k in blocking_keys(c, p)}
    shared = neighbours(session, keys)
    for key in changed:
        shared.pop(key, None)
    near_candidates, near_people, _ = read_candidates(session, set(shared))
    scope = in_scope((new_candidates, new_people), (near_candidates, near_people), shared, model)
    return same_children(session, scope)


def _publish(
    session: Session,
    clusters: list[Cluster],
    existing: dict[Key, Link],
    children: dict[str, Child],
    restricted: dict[Key, bool],
) -> tuple[int, int, int]:
    """Write each cluster's child and links: (new children, merged children, links changed)."""
    claimed: set[str] = set()
    new_children = merged = changed = 0
    for cluster in clusters:
        child_id, retired = _choose_child(cluster, existing, children, claimed)
        claimed.add(child_id)
        if child_id not in children:
            known = session.get(Child, child_id)
            children[child_id] = known or Child(
                child_id=child_id, restricted=False, created_at=utcnow()
            )
            if known is None:
                session.add(children[child_id])
                new_children += 1
        for old in retired:
            children[old].merged_into = child_id
            session.add(
                LinkEvent(action="merge", child_before=old, child_after=child_id, evidence={})
            )
            merged += 1
        children[child_id].restricted = any(restricted.get(m.key, False) for m in cluster.members)
        changed += _write_links(session, cluster, child_id, existing)
    return new_children, merged, changed


def _links(session: Session, scope: set[Key] | None) -> dict[Key, Link]:
    if scope is None:
        return {(link.source, link.record_id): link for link in session.scalars(select(Link))}
    links: dict[Key, Link] = {}
    for part in chunks(sorted(scope)):
        query = select(Link).where(tuple_(Link.source, Link.record_id).in_(part))
        links.update(((link.source, link.record_id), link) for link in session.scalars(query))
    return links


def _children(
    session: Session, existing: dict[Key, Link], scope: set[Key] | None
) -> dict[str, Child]:
    if scope is None:
        return {c.child_id: c for c in session.scalars(select(Child))}
    children: dict[str, Child] = {}
    for part in chunks(sorted({link.child_id for link in existing.values()})):
        query = select(Child).where(Child.child_id.in_(part))
        children.update((c.child_id, c) for c in session.scalars(query))
    return children


def _store_keys(
    session: Session,
    candidates: list[LinkCandidate],
    people: list[PersonRow],
    scope: set[Key] | None,
) -> None:
    """Replace the blocking keys of the records this run linked."""
    if scope is None:
        session.execute(delete(LinkKey))
    else:
        for part in chunks(sorted(scope)):
            session.execute(
                delete(LinkKey).where(tuple_(LinkKey.source, LinkKey.record_id).in_(part))
            )
    rows = record_keys(candidates, people)
    for start in range(0, len(rows), 20000):
        session.execute(insert(LinkKey), rows[start : start + 20000])


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
) -> tuple[list[LinkCandidate], list[PersonRow], dict[Key, bool]]:
    """The current source records (those in ``scope`` if given), in key order."""
    query = select(
        SourceRecord.source,
        SourceRecord.record_id,
        SourceRecord.nhs_number,
        SourceRecord.upn,
        SourceRecord.restricted,
        SourceRecord.payload,
        SourceRecord.merged_into_record_id,
    ).where(SourceRecord.is_current.is_(True))
    if scope is None:
        rows = list(session.execute(query))
    else:
        rows = []
        for part in chunks(sorted(scope)):
            where = tuple_(SourceRecord.source, SourceRecord.record_id).in_(part)
            rows.extend(session.execute(query.where(where)))
    rows.sort(key=lambda row: (row[0], row[1]))
    candidates, people, restricted = [], [], {}
    for source, record_id, nhs, upn, is_restricted, payload, merged_into in rows:
        identity = payload.get("identity") or {}
        local_ids = tuple(sorted(identity.get("local_ids", {}).items()))
        candidate = LinkCandidate(source, record_id, nhs, upn, local_ids, merged_into)
        candidates.append(candidate)
        people.append(_person(candidate.key, identity, nhs, upn))
        restricted[candidate.key] = bool(is_restricted)
    return candidates, people, restricted


def _person(
    key: tuple[str, str], identity: dict[str, Any], nhs: str | None, upn: str | None
) -> PersonRow:
    addresses = identity.get("addresses") or []
    postcodes = [a.get("postcode") for a in addresses if a.get("postcode")]
    lines = [" ".join(a.get("lines") or []) for a in addresses if a.get("lines")]
    return PersonRow(
        key=key,
        given_name=_lower(identity.get("given_name")),
        family_name=_lower(identity.get("family_name")),
        birth_date=identity.get("birth_date"),
        sex=identity.get("sex"),
        postcode=postcodes[-1] if postcodes else None,
        nhs_number=nhs,
        upn=upn,
        address=_lower(lines[-1]) if lines else None,
    )


def _lower(value: str | None) -> str | None:
    return value.strip().lower() or None if value else None


def _queue_for_review(
    session: Session, clusters: list[Cluster], scored: list[ScoredPair], model: Path | None
) -> int:
    """Pairs between the thresholds that linkage left apart go to the review queue, once."""
    cluster_of = {m.key: n for n, c in enumerate(clusters) for m in c.members}
    known = {
        ((r.left_source, r.left_record_id), (r.right_source, r.right_record_id))
        for r in session.scalars(select(LinkReview))
    }
    added = 0
    for pair in scored:
        if cluster_of.get(pair.left) == cluster_of.get(pair.right):
            continue
        left, right = sorted((pair.left, pair.right))
        if (left, right) in known:
            continue
        known.add((left, right))
        session.add(
            LinkReview(
                left_source=left[0],
                left_record_id=left[1],
                right_source=right[0],
                right_record_id=right[1],
                probability=pair.probability,
                match_weights=pair.weights,
                model=model.stem if model else "",
                status="open",
            )
        )
        added += 1
    return added


def _choose_child(
    cluster: Cluster,
    existing: dict[tuple[str, str], Link],
    children: dict[str, Child],
    claimed: set[str],
) -> tuple[str, list[str]]:
    """The surviving child id for a cluster, and the ids it retires by merging."""
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


def _write_links(
    session: Session, cluster: Cluster, child_id: str, existing: dict[tuple[str, str], Link]
) -> int:
    changed = 0
    size = len(cluster.members)
    for member in cluster.members:
        rule = cluster.rules[member.key]
        link = existing.get(member.key)
        if link is not None and link.origin == "MANUAL":
            continue
        evidence = {"rule": rule, "cluster_size": size, **cluster.evidence.get(member.key, {})}
        if link is None or (link.child_id, link.rule, link.evidence) != (child_id, rule, evidence):
            session.add(_event(member.key, link, child_id, rule, evidence))
        if link is None:
            link = Link(
                source=member.source,
                record_id=member.record_id,
                child_id=child_id,
                state="MATCH",
                origin="AUTO",
                rule=rule,
                evidence=evidence,
            )
            session.add(link)
            existing[member.key] = link
            changed += 1
        elif (link.child_id, link.rule, link.evidence) != (child_id, rule, evidence):
            link.child_id, link.rule, link.evidence, link.state = child_id, rule, evidence, "MATCH"
            changed += 1
    return changed


def _event(
    key: tuple[str, str], link: Link | None, child_id: str, rule: str, evidence: dict[str, Any]
) -> LinkEvent:
    """The history row for a link made or changed by the matcher (what it was is kept)."""
    return LinkEvent(
        action="link" if link is None else "relink",
        source=key[0],
        record_id=key[1],
        child_before=link.child_id if link is not None else None,
        child_after=child_id,
        origin="AUTO",
        rule=rule,
        evidence=evidence,
    )


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
        _, people, _ = read_candidates(session)
    return train_model(people)


def open_reviews(index_url: str | None = None) -> list[LinkReview]:
    with session_factory(index_url)() as session:
        query = select(LinkReview).where(LinkReview.status == "open")
        return list(session.scalars(query.order_by(LinkReview.probability.desc(), LinkReview.id)))
