"""The review queue: possible matches a person decides, as plain functions.

``list_reviews`` ranks the queue by risk, then by what a decision would change: pairs with
conflicts first (twin-shaped, identifier conflict, NHS number failing its check digit, different
first names: ``review_risk``), then pairs where social care knows one side only, then those
touching a child known to social care or registered for home education, then the strongest;
``review_detail`` shows both records field by field with each field's match weight (values:
for the reviewer only, and audited); ``accept`` joins the two records' children (a pair with a
conflict takes two different reviewers: four eyes), ``reject`` keeps them apart for good,
``reopen`` undoes either. Decisions are MANUAL: the matcher and retraining never change them
(linkage reads them back as constraints), every step is audited and kept in the link history.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.access.audit import Actor, AuditEvent, append
from gateway.errors import GatewayError
from gateway.linkage.incremental import with_keys
from gateway.linkage.review_risk import MIN_SECOND_LOOK_REASON, Assessment, assess
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


class SameReviewerError(ReviewError):
    """The reviewer who accepted a conflicting pair first tried to complete it too."""


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
    assessment: Assessment = field(default_factory=Assessment)
    social_care_one_side: bool = False  # a decision changes what social care's workers see
    first_accepted_by: str | None = None  # awaiting a second reviewer while open

    @property
    def priority(self) -> bool:
        return self.known_to_social_care or self.home_education

    @property
    def awaiting_second_reviewer(self) -> bool:
        return self.status == "open" and self.first_accepted_by is not None

    def rank(self) -> tuple[int, int, bool, float, int]:
        """Riskiest first, then what a decision would change, then the strongest."""
        changes = 2 if self.social_care_one_side else 1 if self.priority else 0
        return (-self.assessment.risk, -changes, not self.priority, -self.probability, self.id)


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
    first_reason: str | None = None


def list_reviews(
    index_url: str | None = None, status: str | None = "open", limit: int | None = None
) -> list[ReviewItem]:
    """Reviews ranked for a person: riskiest first, then what a decision would change, then
    the strongest pairs (``ReviewItem.rank``)."""
    with session_factory(index_url)() as session:
        query = select(LinkReview)
        if status is not None:
            query = query.where(LinkReview.status == status)
        reviews = list(session.scalars(query))
        flags = _child_flags(session, reviews)
        identities = _identities(session, {key for r in reviews for key in _keys(r)})
        items = [_item(review, flags, identities) for review in reviews]
    items.sort(key=ReviewItem.rank)
    return items[:limit] if limit is not None else items


def review_detail(review_id: int, actor: Actor, index_url: str | None = None) -> ReviewDetail:
    """Both records side by side with the weights; showing values is audited."""
    with session_factory(index_url).begin() as session:
        review = _review(session, review_id)
        identities = _identities(session, set(_keys(review)))
        item = _item(review, _child_flags(session, [review]), identities)
        left, right = _identity(identities, item.left), _identity(identities, item.right)
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
            first_reason=review.first_reason,
        )


def accept(review_id: int, actor: Actor, reason: str, index_url: str | None = None) -> str | None:
    """The two records are one child: join their children now (the older id survives), and
    say which child. A pair with a conflict (``review_risk``) takes two reviewers: the first
    accept is recorded and the pair waits (None is returned); a different reviewer completes
    it. Both need a reason of at least ``MIN_SECOND_LOOK_REASON`` characters."""
    with session_factory(index_url).begin() as session:
        review = _open_review(session, review_id)
        left, right = _keys(review)
        _refuse_two_nhs_numbers(session, left, right)
        if _assessment(session, review).needs_second_reviewer:
            _second_look(review, actor, reason)
            if review.first_accepted_by is None:
                review.first_accepted_by, review.first_accepted_at = actor.user, utcnow()
                review.first_reason = reason
                _audit(
                    session,
                    actor,
                    "linkage.review.accept_first",
                    _child_of(session, left),
                    (),
                    outcome="awaiting_second",
                )
                return None
        keep, retire = _survivor(session, left, right)
        if retire is not None:
            _merge(session, retire, keep, review_id, actor.user)
        for key in (left, right):
            _make_manual(session, key, keep, review, actor.user)
        session.flush()
        refresh_restricted(session, [keep])
        _decide(session, review, "accepted", actor, reason)
        confirmed = review.first_accepted_by is not None
        _audit(
            session,
            actor,
            "linkage.review.accept",
            keep,
            (),
            outcome="confirmed" if confirmed else "ok",
            note=f"second reviewer; first accepted by {review.first_accepted_by}"
            if confirmed
            else None,
        )
        return keep


def _second_look(review: LinkReview, actor: Actor, reason: str) -> None:
    """Refuse what four eyes forbid: a short reason, or the first reviewer confirming."""
    if len(reason.strip()) < MIN_SECOND_LOOK_REASON:
        raise ReviewError(
            "this pair has a conflict: say why it is one child "
            f"(at least {MIN_SECOND_LOOK_REASON} characters)"
        )
    if review.first_accepted_by == actor.user:
        raise SameReviewerError(
            f"you accepted review {review.id} first: a different reviewer must confirm it"
        )


def _assessment(session: Session, review: LinkReview) -> Assessment:
    left, right = _keys(review)
    identities = _identities(session, {left, right})
    return assess(identities.get(left), identities.get(right), review.conflict)


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
        if review.status == "open" and review.first_accepted_by is None:
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
        # Four eyes start again: a reopened pair (or a withdrawn first accept) needs two anew.
        review.first_accepted_by, review.first_accepted_at, review.first_reason = None, None, None
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


def _item(
    review: LinkReview,
    flags: dict[Key, tuple[bool, bool]],
    identities: dict[Key, dict[str, Any]],
) -> ReviewItem:
    left, right = _keys(review)
    left_social, right_social = (
        flags.get(left, (False, False))[0],
        flags.get(right, (False, False))[0],
    )
    social = left_social or right_social
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
        assessment=assess(identities.get(left), identities.get(right), review.conflict),
        social_care_one_side=left_social != right_social,
        first_accepted_by=review.first_accepted_by,
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


def _identities(session: Session, keys: set[Key]) -> dict[Key, dict[str, Any]]:
    """The canonical identity of each current record among ``keys`` (those held)."""
    found: dict[Key, dict[str, Any]] = {}
    record = SourceRecord
    for condition in with_keys(record.source, record.record_id, keys):
        rows = session.execute(
            select(record.source, record.record_id, record.payload).where(
                condition, record.is_current.is_(True)
            )
        )
        found.update(((s, r), (payload or {}).get("identity") or {}) for s, r, payload in rows)
    return found


def _identity(identities: dict[Key, dict[str, Any]], key: Key) -> dict[str, str | None]:
    identity = identities.get(key) or {}
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
        "first_accepted_by": review.first_accepted_by,
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
    *,
    outcome: str = "ok",
    note: str | None = None,
) -> None:
    append(
        session,
        AuditEvent(
            actor=actor,
            action=action,
            outcome=outcome,
            purpose="identity resolution review",
            child_id=child_id,
            fields_disclosed=[name for name, _ in fields],
            reason=note,
        ),
    )
