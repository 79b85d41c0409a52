"""The review queue: possible matches a person decides, as plain functions.

``list_reviews`` ranks the queue (pairs touching a child known to social care or registered
for home education first, then the strongest); ``review_detail`` shows both records field by
field with each field's match weight (values: for the reviewer only, and audited);
``accept`` joins the two records' children, ``reject`` keeps them apart for good, ``reopen``
undoes either. Decisions are MANUAL: the matcher and retraining never change them (linkage
reads them back as constraints), every step is audited and kept in the link history.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.access.audit import Actor, AuditEvent, append
from gateway.errors import GatewayError
from gateway.linkage.incremental import with_keys
from gateway.read_model import refresh_restricted, resolve_child
from gateway.store.engine import session_factory
from gateway.store.tables import Child, Link, LinkEvent, LinkReview, SourceRecord
from gateway.store.tables.base import utcnow

Key = tuple[str, str]
SOCIAL_CARE_PREFIX = "social_care__"
EHE_REGISTER = "education__ehe_register"
# What the reviewer sees side by side, and the comparison whose weight explains each field.
FIELDS = (
    ("given_name", "given_name"),
    ("family_name", "family_name"),
    ("birth_date", "birth_date"),
    ("sex", "sex"),
    ("postcode", "place"),
    ("address", "place"),
    ("nhs_number", "nhs_number"),
    ("upn", "upn"),
)


class ReviewError(GatewayError):
    """A review decision that cannot be made (unknown review, already decided, two NHS numbers)."""


class UnknownReviewError(ReviewError):
    """No review has that id."""


@dataclass(frozen=True)
class ReviewItem:
    id: int
    left: Key
    right: Key
    probability: float
    status: str
    known_to_social_care: bool
    home_education: bool
    match_weights: dict[str, float]

    @property
    def priority(self) -> bool:
        return self.known_to_social_care or self.home_education


@dataclass(frozen=True)
class FieldEvidence:
    field: str
    left: str | None
    right: str | None
    comparison: str
    weight: float | None


@dataclass(frozen=True)
class ReviewDetail:
    item: ReviewItem
    fields: list[FieldEvidence]
    prior: float
    total_weight: float
    model: str
    decided_by: str | None
    reason: str | None


def list_reviews(
    index_url: str | None = None, status: str | None = "open", limit: int | None = None
) -> list[ReviewItem]:
    """Reviews ranked for a person: priority children first, then the strongest pairs."""
    with session_factory(index_url)() as session:
        query = select(LinkReview)
        if status is not None:
            query = query.where(LinkReview.status == status)
        reviews = list(session.scalars(query))
        flags = _child_flags(session, reviews)
        items = [_item(review, flags) for review in reviews]
    items.sort(key=lambda i: (not i.priority, -i.probability, i.id))
    return items[:limit] if limit is not None else items


def review_detail(review_id: int, actor: Actor, index_url: str | None = None) -> ReviewDetail:
    """Both records side by side with the weights; showing values is audited."""
    with session_factory(index_url).begin() as session:
        review = _review(session, review_id)
        item = _item(review, _child_flags(session, [review]))
        left, right = _identity(session, item.left), _identity(session, item.right)
        weights = review.match_weights
        fields = [
            FieldEvidence(
                name, left.get(name), right.get(name), comparison, weights.get(comparison)
            )
            for name, comparison in FIELDS
        ]
        _audit(session, actor, "linkage.review.show", _child_of(session, item.left), FIELDS)
        return ReviewDetail(
            item=item,
            fields=fields,
            prior=float(weights.get("prior", 0.0)),
            total_weight=round(sum(float(v) for v in weights.values()), 3),
            model=review.model,
            decided_by=review.decided_by,
            reason=review.reason,
        )


def accept(review_id: int, actor: Actor, reason: str, index_url: str | None = None) -> str:
    """The two records are one child: join their children now (the older id survives)."""
    with session_factory(index_url).begin() as session:
        review = _open_review(session, review_id)
        left, right = _keys(review)
        _refuse_two_nhs_numbers(session, left, right)
        keep, retire = _survivor(session, left, right)
        if retire is not None:
            _merge(session, retire, keep, review_id, actor.user)
        for key in (left, right):
            _make_manual(session, key, keep, review, actor.user)
        session.flush()
        refresh_restricted(session, [keep])
        _decide(session, review, "accepted", actor, reason)
        _audit(session, actor, "linkage.review.accept", keep, ())
        return keep


def reject(review_id: int, actor: Actor, reason: str, index_url: str | None = None) -> None:
    """The two records are two children: linkage never puts them together again."""
    with session_factory(index_url).begin() as session:
        review = _open_review(session, review_id)
        left, _ = _keys(review)
        _decide(session, review, "rejected", actor, reason)
        _audit(session, actor, "linkage.review.reject", _child_of(session, left), ())


def reopen(review_id: int, actor: Actor, reason: str, index_url: str | None = None) -> None:
    """Undo a decision: an accepted pair is unlinked (the merge reversed), and it is open again."""
    with session_factory(index_url).begin() as session:
        review = _review(session, review_id)
        if review.status == "open":
            raise ReviewError(f"review {review_id} is open: there is no decision to undo")
        if review.status == "accepted":
            _undo_accept(session, review_id, actor.user)
        session.add(
            LinkEvent(
                action="reopen", review_id=review_id, actor=actor.user, evidence={"reason": reason}
            )
        )
        review.status, review.decided_by, review.decided_at = "open", None, None
        review.reason = reason
        left, _ = _keys(review)
        _audit(session, actor, "linkage.review.reopen", _child_of(session, left), ())


def _review(session: Session, review_id: int) -> LinkReview:
    review = session.get(LinkReview, review_id)
    if review is None:
        raise UnknownReviewError(f"no review {review_id}")
    return review


def _open_review(session: Session, review_id: int) -> LinkReview:
    review = _review(session, review_id)
    if review.status != "open":
        raise ReviewError(f"review {review_id} is {review.status}; reopen it first to change it")
    return review


def _keys(review: LinkReview) -> tuple[Key, Key]:
    return (
        (review.left_source, review.left_record_id),
        (review.right_source, review.right_record_id),
    )


def _item(review: LinkReview, flags: dict[Key, tuple[bool, bool]]) -> ReviewItem:
    left, right = _keys(review)
    social = flags.get(left, (False, False))[0] or flags.get(right, (False, False))[0]
    ehe = flags.get(left, (False, False))[1] or flags.get(right, (False, False))[1]
    return ReviewItem(
        id=review.id,
        left=left,
        right=right,
        probability=review.probability,
        status=review.status,
        known_to_social_care=social,
        home_education=ehe,
        match_weights=dict(review.match_weights),
    )


def _child_flags(session: Session, reviews: list[LinkReview]) -> dict[Key, tuple[bool, bool]]:
    """For each reviewed record: is its child known to social care, registered for EHE?"""
    keys = {key for review in reviews for key in _keys(review)}
    if not keys:
        return {}
    child_of: dict[Key, str] = {}
    for condition in with_keys(Link.source, Link.record_id, keys):
        rows = session.execute(select(Link.source, Link.record_id, Link.child_id).where(condition))
        child_of.update(((s, r), c) for s, r, c in rows)
    sources: dict[str, set[str]] = {}
    for chunk in _chunks(sorted(set(child_of.values()))):
        for child_id, source in session.execute(
            select(Link.child_id, Link.source).where(Link.child_id.in_(chunk))
        ):
            sources.setdefault(child_id, set()).add(source)
    flags = {}
    for key in keys:
        held = sources.get(child_of.get(key, ""), set()) | {key[0]}
        flags[key] = (
            any(s.startswith(SOCIAL_CARE_PREFIX) for s in held),
            EHE_REGISTER in held,
        )
    return flags


def _chunks(values: list[Any], size: int = 500) -> list[list[Any]]:
    return [values[i : i + size] for i in range(0, len(values), size)]


def _identity(session: Session, key: Key) -> dict[str, str | None]:
    payload = session.scalar(
        select(SourceRecord.payload).where(
            SourceRecord.source == key[0],
            SourceRecord.record_id == key[1],
            SourceRecord.is_current.is_(True),
        )
    )
    identity = (payload or {}).get("identity") or {}
    addresses = identity.get("addresses") or [{}]
    latest = addresses[-1]
    values = {name: identity.get(name) for name, _ in FIELDS}
    values["postcode"] = latest.get("postcode")
    values["address"] = ", ".join(latest.get("lines") or []) or None
    return {k: None if v is None else str(v) for k, v in values.items()}


def _child_of(session: Session, key: Key) -> str | None:
    link = session.get(Link, key)
    return link.child_id if link is not None else None


def _refuse_two_nhs_numbers(session: Session, left: Key, right: Key) -> None:
    numbers = set()
    for key in (left, right):
        numbers.add(
            session.scalar(
                select(SourceRecord.nhs_number).where(
                    SourceRecord.source == key[0],
                    SourceRecord.record_id == key[1],
                    SourceRecord.is_current.is_(True),
                )
            )
        )
    numbers.discard(None)
    if len(numbers) > 1:
        raise ReviewError("the two records hold different valid NHS numbers: two children")


def _survivor(session: Session, left: Key, right: Key) -> tuple[str, str | None]:
    """The child both records will belong to, and the child it retires (if two)."""
    children = []
    for key in (left, right):
        child_id = _child_of(session, key)
        child = resolve_child(session, child_id) if child_id else None
        if child is None:
            raise ReviewError("a record of this pair has no child yet: run linkage first")
        children.append(child)
    if children[0].child_id == children[1].child_id:
        return children[0].child_id, None
    children.sort(key=lambda c: (c.created_at, c.child_id))
    return children[0].child_id, children[1].child_id


def _merge(session: Session, retire: str, keep: str, review_id: int, actor: str) -> None:
    for link in session.scalars(select(Link).where(Link.child_id == retire)):
        session.add(
            LinkEvent(
                action="merge",
                source=link.source,
                record_id=link.record_id,
                child_before=retire,
                child_after=keep,
                origin=link.origin,
                rule=link.rule,
                evidence=link.evidence,
                review_id=review_id,
                actor=actor,
            )
        )
        link.child_id = keep
    retired = session.get(Child, retire)
    assert retired is not None
    retired.merged_into = keep


def _make_manual(session: Session, key: Key, child_id: str, review: LinkReview, actor: str) -> None:
    link = session.get(Link, key)
    assert link is not None
    evidence = {
        "review": review.id,
        "probability": review.probability,
        "match_weights": review.match_weights,
        "model": review.model,
        "decided_by": actor,
    }
    session.add(
        LinkEvent(
            action="accept",
            source=key[0],
            record_id=key[1],
            child_before=link.child_id,
            child_after=child_id,
            origin=link.origin,
            rule=link.rule,
            evidence=link.evidence,
            review_id=review.id,
            actor=actor,
        )
    )
    link.child_id, link.origin, link.rule, link.evidence = child_id, "MANUAL", "manual", evidence
    link.state = "MATCH"


def _undo_accept(session: Session, review_id: int, actor: str) -> None:
    """Put back what the accept changed, newest first, from the link history."""
    events = session.scalars(
        select(LinkEvent)
        .where(LinkEvent.review_id == review_id, LinkEvent.action.in_(("merge", "accept")))
        .order_by(LinkEvent.id.desc())
    ).all()
    undone = [e for e in events if e.id > _previous_reopen(session, review_id)]
    touched: set[str] = set()
    for event in undone:
        link = session.get(Link, (event.source, event.record_id))
        if link is None or event.child_before is None:
            continue
        session.add(
            LinkEvent(
                action="unmerge",
                source=event.source,
                record_id=event.record_id,
                child_before=link.child_id,
                child_after=event.child_before,
                origin=event.origin,
                rule=event.rule,
                evidence=event.evidence,
                review_id=review_id,
                actor=actor,
            )
        )
        touched.update((link.child_id, event.child_before))
        link.child_id, link.origin = event.child_before, event.origin or "AUTO"
        link.rule, link.evidence = event.rule or link.rule, event.evidence
        if event.action == "merge":
            retired = session.get(Child, event.child_before)
            if retired is not None:
                retired.merged_into = None
    session.flush()
    refresh_restricted(session, touched)


def _previous_reopen(session: Session, review_id: int) -> int:
    last = session.scalar(
        select(LinkEvent.id)
        .where(LinkEvent.review_id == review_id, LinkEvent.action == "reopen")
        .order_by(LinkEvent.id.desc())
        .limit(1)
    )
    return last or 0


def _decide(session: Session, review: LinkReview, status: str, actor: Actor, reason: str) -> None:
    review.status, review.decided_by, review.decided_at = status, actor.user, utcnow()
    review.reason = reason
    if status == "rejected":
        session.add(
            LinkEvent(
                action="reject", review_id=review.id, actor=actor.user, evidence={"reason": reason}
            )
        )


def _audit(
    session: Session,
    actor: Actor,
    action: str,
    child_id: str | None,
    fields: tuple[tuple[str, str], ...] | tuple[()],
) -> None:
    append(
        session,
        AuditEvent(
            actor=actor,
            action=action,
            outcome="ok",
            purpose="identity resolution review",
            child_id=child_id,
            fields_disclosed=[name for name, _ in fields],
        ),
    )
