"""Review pairs as the policy point shows them to the API and the web pages alike.

Thin over ``gateway.linkage.review`` (which ranks, audits and decides): these functions turn
its results into plain models, explain each match weight, and withhold the address and
postcode of a record that is restricted, by its own label or its child's verdict in the read
model (their weights still show, so the pair can be decided).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from gateway.access.audit import Actor, AuditEvent, append
from gateway.linkage.review import (
    ReviewDetail,
    ReviewItem,
    accept,
    list_reviews,
    reject,
    reopen,
    review_detail,
)
from gateway.linkage.waterfall import waterfall_steps
from gateway.read_model import record_restricted
from gateway.store.engine import session_factory

LOCATION_FIELDS = frozenset({"postcode", "address"})
WITHHELD = "withheld: restricted record"
Decision = Literal["accept", "reject", "reopen"]


class RecordRef(BaseModel):
    source: str
    record_id: str


class ReviewOut(BaseModel):
    """One possible match in the ranked queue (no identifying values)."""

    id: int
    left: RecordRef
    right: RecordRef
    probability: float
    status: str
    known_to_social_care: bool
    home_education: bool
    priority: bool = Field(description="touches a child known to social care or home educated")
    match_weights: dict[str, float]
    strongest: list[tuple[str, float]] = Field(description="the three largest weights")


class FieldOut(BaseModel):
    field: str
    left: str | None
    right: str | None
    comparison: str
    weight: float | None
    withheld: bool = False


class WeightStep(BaseModel):
    """One bar of the waterfall: a comparison's weight stacked on the running total."""

    label: str
    start: float
    weight: float
    end: float
    bayes_factor: float = Field(description="2 ** weight: how much likelier for one child")
    meaning: str


class ReviewDetailOut(BaseModel):
    review: ReviewOut
    fields: list[FieldOut]
    prior: float
    total_weight: float
    model: str
    decided_by: str | None
    reason: str | None
    waterfall: list[WeightStep]


class DecisionOut(BaseModel):
    id: int
    status: str
    child_id: str | None = Field(None, description="the child both records now belong to")


def review_out(item: ReviewItem) -> ReviewOut:
    strongest = sorted(item.match_weights.items(), key=lambda kv: -float(kv[1]))[:3]
    return ReviewOut(
        id=item.id,
        left=RecordRef(source=item.left[0], record_id=item.left[1]),
        right=RecordRef(source=item.right[0], record_id=item.right[1]),
        probability=item.probability,
        status=item.status,
        known_to_social_care=item.known_to_social_care,
        home_education=item.home_education,
        priority=item.priority,
        match_weights={k: float(v) for k, v in item.match_weights.items()},
        strongest=[(k, float(v)) for k, v in strongest],
    )


def review_queue(
    index_url: str, actor: Actor, status: str = "open", limit: int = 500
) -> list[ReviewOut]:
    """The ranked queue: priority children first, then the strongest pairs (audited)."""
    items = list_reviews(index_url, status=None if status == "all" else status, limit=limit)
    with session_factory(index_url).begin() as session:
        append(
            session,
            AuditEvent(
                actor=actor,
                action="linkage.review.list",
                outcome="viewed",
                purpose="identity resolution review",
                reason=f"{len(items)} {status} reviews listed",
            ),
        )
    return [review_out(item) for item in items]


def review_view(index_url: str, actor: Actor, review_id: int) -> ReviewDetailOut:
    """Both records side by side, each weight explained (showing values is audited)."""
    detail = review_detail(review_id, actor, index_url)
    restricted = _restricted(index_url, detail)
    fields = []
    for f in detail.fields:
        hidden = f.field in LOCATION_FIELDS and bool(restricted)
        fields.append(
            FieldOut(
                field=f.field,
                left=WITHHELD if hidden and "left" in restricted else f.left,
                right=WITHHELD if hidden and "right" in restricted else f.right,
                comparison=f.comparison,
                weight=f.weight,
                withheld=hidden,
            )
        )
    return ReviewDetailOut(
        review=review_out(detail.item),
        fields=fields,
        prior=detail.prior,
        total_weight=detail.total_weight,
        model=detail.model,
        decided_by=detail.decided_by,
        reason=detail.reason,
        waterfall=explained_steps(detail),
    )


def decide(
    index_url: str, actor: Actor, review_id: int, decision: Decision, reason: str
) -> DecisionOut:
    """Accept, reject or reopen one review as ``actor`` (MANUAL, audited, in one transaction)."""
    if decision == "accept":
        child_id = accept(review_id, actor, reason, index_url)
        return DecisionOut(id=review_id, status="accepted", child_id=child_id)
    if decision == "reject":
        reject(review_id, actor, reason, index_url)
        return DecisionOut(id=review_id, status="rejected")
    reopen(review_id, actor, reason, index_url)
    return DecisionOut(id=review_id, status="open")


def explained_steps(detail: ReviewDetail) -> list[WeightStep]:
    """The waterfall's bars, each with its Bayes factor said in words."""
    steps = []
    for label, start, weight in waterfall_steps(detail):
        factor = 2.0 ** max(-300.0, min(300.0, weight))  # a float, whatever the weight
        if label == "prior":
            meaning = "how likely any two records are one child, before comparing them"
        elif label == "final score":
            meaning = f"all evidence together: match probability {detail.item.probability:.4f}"
        elif weight >= 0:
            meaning = f"{factor:,.1f} times likelier if the records are one child"
        else:
            meaning = f"{1 / factor:,.1f} times likelier if they are two children"
        steps.append(
            WeightStep(
                label=label,
                start=round(start, 4),
                weight=round(weight, 4),
                end=round(start + weight, 4),
                bayes_factor=factor,
                meaning=meaning,
            )
        )
    return steps


def _restricted(index_url: str, detail: ReviewDetail) -> set[str]:
    """Which side's record ('left', 'right') is restricted (its own label, or its child's)."""
    sides = {"left": detail.item.left, "right": detail.item.right}
    with session_factory(index_url)() as session:
        return {side for side, key in sides.items() if record_restricted(session, *key)}
