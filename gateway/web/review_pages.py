"""The review queue pages: the ranked list, one pair side by side with its waterfall, and the
accept / reject / reopen forms (POSTed with the session's form token, no JavaScript).

Every page goes through ``gateway.policy.review_pairs``, the code the API's ``/api/v1/reviews``
uses: the same ranking, roles, audit entries, withheld addresses and MANUAL decisions.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Path, Query, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session, sessionmaker

from gateway.access.audit import Actor
from gateway.access.roles import REVIEW_DECISION_ROLES, REVIEW_QUEUE_ROLES
from gateway.linkage.review import ReviewError, UnknownReviewError
from gateway.policy.review_pairs import (
    Decision,
    ReviewDetailOut,
    WeightStep,
    decide,
    review_queue,
    review_view,
)
from gateway.web.render import check_csrf, page, require_role, signed_in

router = APIRouter()
Who = Annotated[Actor, Depends(signed_in)]
MAX_ID = 2**31 - 1
ReviewId = Annotated[int, Path(ge=1, le=MAX_ID)]
DONE = {"accept": "accepted", "reject": "rejected", "reopen": "reopened"}
CHART_WIDTH, CHART_HEIGHT, CHART_MARGIN = 720, 300, 40


def _index_url(request: Request) -> str:
    sessions: sessionmaker[Session] = request.app.state.web_sessions
    return str(sessions.kw["bind"].url.render_as_string(hide_password=False))


@router.get("/reviews", response_class=HTMLResponse)
def reviews(
    request: Request,
    who: Who,
    decided: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    outcome: Annotated[str | None, Query(pattern="^(accepted|rejected|reopened|awaiting)$")] = None,
) -> Response:
    """The open reviews, ranked as the API ranks them (no identifying values)."""
    require_role(who, REVIEW_QUEUE_ROLES)
    queue = review_queue(_index_url(request), who, "open", 500)
    context = {
        "reviews": queue,
        "may_decide": who.role in REVIEW_DECISION_ROLES,
        "decided": decided if outcome else None,
        "outcome": outcome,
    }
    return page(request, "reviews.html", context)


@router.get("/reviews/{review_id}", response_class=HTMLResponse)
def review(request: Request, who: Who, review_id: ReviewId) -> Response:
    """One pair side by side, its waterfall, and the decision forms (values audited)."""
    require_role(who, REVIEW_DECISION_ROLES)
    return _review_page(request, who, review_id)


def _review_page(
    request: Request,
    who: Actor,
    review_id: int,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    try:
        shown = review_view(_index_url(request), who, review_id)
    except UnknownReviewError:
        return _no_such_review(request)
    context: dict[str, Any] = {"shown": shown, "chart": waterfall_chart(shown), "errors": errors}
    return page(request, "review.html", context, status_code=status_code)


def _no_such_review(request: Request) -> Response:
    context = {"message": "There is no review with that number"}
    return page(request, "refused.html", context, status_code=status.HTTP_404_NOT_FOUND)


def _decision(
    request: Request, who: Actor, review_id: int, decision: Decision, *, reason: str, csrf: str
) -> Response:
    check_csrf(request, csrf)
    require_role(who, REVIEW_DECISION_ROLES)
    reason = reason.strip()
    if len(reason) < 3:
        errors = {"reason": "Say why you decided this (at least 3 characters)"}
        return _review_page(request, who, review_id, errors, status.HTTP_400_BAD_REQUEST)
    try:
        decided = decide(_index_url(request), who, review_id, decision, reason)
    except UnknownReviewError:
        return _no_such_review(request)
    except ReviewError as exc:
        errors = {"reason": str(exc)[:1].upper() + str(exc)[1:]}
        return _review_page(request, who, review_id, errors, status.HTTP_409_CONFLICT)
    outcome = "awaiting" if decided.status == "awaiting_second_reviewer" else DONE[decision]
    target = f"/reviews?decided={review_id}&outcome={outcome}"
    return RedirectResponse(target, status_code=status.HTTP_303_SEE_OTHER)


Reason = Annotated[str, Form(max_length=500)]
Csrf = Annotated[str, Form()]


@router.post("/reviews/{review_id}/accept")
def accept(
    request: Request, who: Who, review_id: ReviewId, reason: Reason = "", csrf: Csrf = ""
) -> Response:
    return _decision(request, who, review_id, "accept", reason=reason, csrf=csrf)


@router.post("/reviews/{review_id}/reject")
def reject(
    request: Request, who: Who, review_id: ReviewId, reason: Reason = "", csrf: Csrf = ""
) -> Response:
    return _decision(request, who, review_id, "reject", reason=reason, csrf=csrf)


@router.post("/reviews/{review_id}/reopen")
def reopen(
    request: Request, who: Who, review_id: ReviewId, reason: Reason = "", csrf: Csrf = ""
) -> Response:
    return _decision(request, who, review_id, "reopen", reason=reason, csrf=csrf)


def signed(weight: float) -> str:
    """A weight as a signed number, or "none" where it is nothing (never a bare "+0.00")."""
    return "none" if abs(weight) < 0.005 else f"{weight:+.2f}"


def waterfall_chart(shown: ReviewDetailOut) -> dict[str, Any]:
    """Bars for an inline SVG waterfall (drawn by the template; no script, no image file)."""
    steps: list[WeightStep] = shown.waterfall
    low = min([0.0] + [min(s.start, s.end) for s in steps])
    high = max([0.0] + [max(s.start, s.end) for s in steps])
    span = (high - low) or 1.0
    plot_height = CHART_HEIGHT - 2 * CHART_MARGIN
    slot = (CHART_WIDTH - CHART_MARGIN) / max(1, len(steps))

    def y(value: float) -> float:
        return round(CHART_MARGIN + (high - value) / span * plot_height, 1)

    bars = []
    for n, step in enumerate(steps):
        top, bottom = y(max(step.start, step.end)), y(min(step.start, step.end))
        final = step.label == "final score"
        bars.append(
            {
                "x": round(CHART_MARGIN + n * slot + slot * 0.15, 1),
                "width": round(slot * 0.7, 1),
                "y": top,
                "height": max(1.0, round(bottom - top, 1)),
                "colour": "#1d70b8" if final else "#00703c" if step.weight >= 0 else "#d4351c",
                "label": step.label.replace("_", " "),
                "value": signed(step.weight),
                "centre": round(CHART_MARGIN + n * slot + slot / 2, 1),
            }
        )
    return {
        "width": CHART_WIDTH,
        "height": CHART_HEIGHT,
        "zero": y(0.0),
        "left": CHART_MARGIN,
        "bars": bars,
    }
