"""Review pairs as the policy point shows them to the API and the web pages alike.

Thin over ``gateway.linkage.review`` (which ranks, audits and decides): these functions turn
its results into plain models, explain each match weight, and withhold the address and
postcode of a record that is restricted, by its own label or its child's verdict in the read
model (their weights still show, so the pair can be decided).

Reviewers are told the truth first: each pair carries its conflicts in words
(``linkage.review_risk``), a twin-shaped pair never shows a bare probability (``likelihood``
says what it looks like instead), and every weight is said in words as well as in numbers.
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
from gateway.linkage.review_risk import Assessment, ConflictKind, weight_words
from gateway.linkage.waterfall import waterfall_steps
from gateway.read_model import record_restricted
from gateway.store.engine import session_factory

LOCATION_FIELDS = frozenset({"postcode", "address"})
WITHHELD = "withheld: restricted record"
Decision = Literal["accept", "reject", "reopen"]


class RecordRef(BaseModel):
    source: str
    record_id: str


class ConflictOut(BaseModel):
    kind: ConflictKind
    says: str = Field(description="the conflict in words (names of fields, never values)")


class ReviewOut(BaseModel):
    """One possible match in the ranked queue (no identifying values)."""

    id: int
    left: RecordRef
    right: RecordRef
    probability: float | None = Field(
        description="the match probability; null for a twin-shaped pair (see likelihood)"
    )
    likelihood: str = Field(
        description="what the pair looks like in words: for a twin-shaped pair, why it may be "
        "twins instead of a probability"
    )
    conflicts: list[ConflictOut] = Field(description="riskiest first; empty when none")
    needs_second_reviewer: bool = Field(
        description="accepting takes two different reviewers (the pair has a conflict)"
    )
    awaiting_second_reviewer: bool
    first_accepted_by: str | None = Field(description="who accepted first (four eyes)")
    status: str
    known_to_social_care: bool
    social_care_one_side: bool = Field(
        description="social care knows one record's child and not the other's: a decision "
        "changes what its workers see"
    )
    home_education: bool
    priority: bool = Field(description="touches a child known to social care or home educated")
    match_weights: dict[str, float]
    strongest: list[tuple[str, float]] = Field(
        description="the three weights largest in size (towards one child or two)"
    )
    evidence: list[str] = Field(
        description="the strongest evidence in words (the strongest against one child always "
        "among it): what the model found, and how much it points to one child or two"
    )


class FieldOut(BaseModel):
    field: str
    left: str | None
    right: str | None
    comparison: str
    weight: float | None
    weight_says: str = Field(description="the weight in words (never a bare +0.00)")
    finding: str | None = Field(None, description="the model's level for the pair, in words")
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
    first_reason: str | None = Field(description="why the first reviewer accepted (four eyes)")
    waterfall: list[WeightStep]


class DecisionOut(BaseModel):
    id: int
    status: str = Field(
        description="accepted, rejected, open, or awaiting_second_reviewer (the first of two "
        "accepts of a pair with a conflict)"
    )
    child_id: str | None = Field(None, description="the child both records now belong to")


def review_out(item: ReviewItem) -> ReviewOut:
    weights = {k: float(v) for k, v in item.match_weights.items() if k != "prior"}
    ranked = sorted(weights.items(), key=lambda kv: -abs(kv[1]))
    strongest = ranked[:3]
    # In words: the strongest evidence, always with the strongest against one child if any.
    against = [kv for kv in ranked if kv[1] <= -0.05][:1]
    said = [kv for kv in ranked if kv not in against][: 3 - len(against)] + against
    assessment = item.assessment
    return ReviewOut(
        id=item.id,
        left=RecordRef(source=item.left[0], record_id=item.left[1]),
        right=RecordRef(source=item.right[0], record_id=item.right[1]),
        probability=None if assessment.twin_shaped else item.probability,
        likelihood=likelihood(item),
        conflicts=[ConflictOut(kind=c.kind, says=c.says) for c in assessment.conflicts],
        needs_second_reviewer=assessment.needs_second_reviewer,
        awaiting_second_reviewer=item.awaiting_second_reviewer,
        first_accepted_by=item.first_accepted_by,
        status=item.status,
        known_to_social_care=item.known_to_social_care,
        social_care_one_side=item.social_care_one_side,
        home_education=item.home_education,
        priority=item.priority,
        match_weights={k: float(v) for k, v in item.match_weights.items()},
        strongest=[(k, float(v)) for k, v in strongest],
        evidence=[_evidence(name, weight, assessment) for name, weight in said],
    )


def likelihood(item: ReviewItem) -> str:
    """The pair's likelihood in words: a twin-shaped pair says why, never a probability."""
    twins = [c.says for c in item.assessment.conflicts if c.kind == "twin_shaped"]
    if twins:
        return twins[0][:1].upper() + twins[0][1:]
    return f"Match probability {item.probability:.3f}"


def _evidence(comparison: str, weight: float, assessment: Assessment) -> str:
    found = (assessment.findings or {}).get(comparison, comparison.replace("_", " "))
    return f"{found}: {weight_words(weight)}"


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
                weight_says=_field_weight_says(f.field, f.weight, detail.item.assessment),
                finding=(detail.item.assessment.findings or {}).get(f.comparison),
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
        first_reason=detail.first_reason,
        waterfall=explained_steps(detail),
    )


def _field_weight_says(field: str, weight: float | None, assessment: Assessment) -> str:
    if field == "nhs_number" and assessment.invalid_check_digit and not weight:
        return "not compared: an NHS number fails its check digit (no evidence either way)"
    return weight_words(weight)


def decide(
    index_url: str, actor: Actor, review_id: int, decision: Decision, reason: str
) -> DecisionOut:
    """Accept, reject or reopen one review as ``actor`` (MANUAL, audited, in one transaction)."""
    if decision == "accept":
        child_id = accept(review_id, actor, reason, index_url)
        if child_id is None:
            return DecisionOut(id=review_id, status="awaiting_second_reviewer")
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
        elif label == "final score" and detail.item.assessment.twin_shaped:
            meaning = f"all evidence together; but {likelihood(detail.item)[:1].lower()}"
            meaning += likelihood(detail.item)[1:]
        elif label == "final score":
            meaning = f"all evidence together: match probability {detail.item.probability:.4f}"
        elif label == "nhs_number" and detail.item.assessment.invalid_check_digit and not weight:
            meaning = _field_weight_says(label, weight, detail.item.assessment)
        else:
            meaning = weight_words(weight)
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
