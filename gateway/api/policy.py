"""Consent and break-glass endpoints under ``/api/v1``; every change is audited.

No ``from __future__ import annotations``: FastAPI reads the annotations at runtime.
"""

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, status
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from gateway.access.audit import Actor, AuditEvent, append
from gateway.access.break_glass import (
    BreakGlassRefusedError,
    close_review,
    overrides_by_user,
    request_break_glass,
    review_list,
    uses_of,
)
from gateway.access.consent import NoSuchConsentError, record_consent, withdraw_consent
from gateway.access.purposes import UnknownPurposeError
from gateway.api.deps import COMMON_RESPONSES, database, rate_limited, require_role
from gateway.read_model import resolve_child

router = APIRouter(prefix="/api/v1", responses=COMMON_RESPONSES)
MAX_ID = 2**31 - 1  # ids are 32-bit integers on PostgreSQL
ConsentRecorder = Annotated[
    Actor, Depends(require_role("ehe_officer", "social_worker", "health_practitioner", "admin"))
]
IgOfficer = Annotated[Actor, Depends(require_role("ig_officer"))]
Db = Annotated[Session, Depends(database)]


class ConsentRequest(BaseModel):
    child_id: str = Field(max_length=40)
    scope: str = Field(max_length=60, description="The purpose code the consent covers")


class ConsentOut(BaseModel):
    child_id: str
    scope: str
    in_force: bool
    changed: int


class BreakGlassRequest(BaseModel):
    child_id: str = Field(max_length=40)
    purpose: str = Field(max_length=60)
    reason: str = Field(max_length=2000, description="Why the override is needed, typed")


class BreakGlassOut(BaseModel):
    id: int
    user: str
    organisation: str
    role: str
    child_id: str
    purpose: str
    reason: str
    opened_at: datetime
    expires_at: datetime
    review_state: str
    reviewed_by: str | None
    review_note: str | None
    uses: int = Field(0, description="Lookups made under this override")


class CloseReviewRequest(BaseModel):
    note: str = Field(max_length=2000)


def _known_child(db: Session, who: Actor, action: str, child_id: str, purpose: str) -> str:
    """The surviving id of the child; an unknown child is refused with 404, and audited."""
    child = resolve_child(db, child_id)
    if child is None:
        refusal = AuditEvent(
            actor=who, action=action, outcome="not_found", purpose=purpose[:60], reason="no child"
        )
        append(db, refusal)
        db.commit()
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no child in the index has that id")
    return child.child_id


def _audit(db: Session, who: Actor, action: str, child_id: str | None, purpose: str) -> None:
    event = AuditEvent(
        actor=who, action=action, outcome="recorded", purpose=purpose, child_id=child_id
    )
    append(db, event)


@router.post("/consents", response_model=ConsentOut, status_code=201)
def give_consent(request: ConsentRequest, who: ConsentRecorder, db: Db) -> ConsentOut:
    """Record a family's consent for one purpose (separate from any lawful basis)."""
    child_id = _known_child(db, who, "consent_given", request.child_id, request.scope)
    try:
        record_consent(db, child_id, request.scope, who.user)
    except UnknownPurposeError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, exc.reason) from None
    _audit(db, who, "consent_given", child_id, request.scope)
    db.commit()
    return ConsentOut(child_id=child_id, scope=request.scope, in_force=True, changed=1)


@router.post("/consents/withdraw", response_model=ConsentOut)
def withdraw(request: ConsentRequest, who: ConsentRecorder, db: Db) -> ConsentOut:
    """Withdraw consent: the very next lookup for that purpose is refused."""
    child_id = _known_child(db, who, "consent_withdrawn", request.child_id, request.scope)
    try:
        changed = withdraw_consent(db, child_id, request.scope, who.user)
    except NoSuchConsentError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, exc.reason) from None
    _audit(db, who, "consent_withdrawn", child_id, request.scope)
    db.commit()
    return ConsentOut(child_id=child_id, scope=request.scope, in_force=False, changed=changed)


@router.post("/break-glass", response_model=BreakGlassOut, status_code=201)
def break_glass(
    request: BreakGlassRequest,
    http: Request,
    who: Annotated[Actor, Depends(rate_limited)],
    db: Db,
) -> BreakGlassOut:
    """Open a time-limited override (roles an agreement names for it, a reason in words, one
    open override per child and purpose); goes to IG review."""
    child_id = _known_child(db, who, "break_glass", request.child_id, request.purpose)
    try:
        override = request_break_glass(
            db,
            who,
            child_id,
            request.purpose,
            request.reason,
            agreements=http.app.state.agreements,
        )
    except (BreakGlassRefusedError, UnknownPurposeError) as exc:
        raise HTTPException(status.HTTP_403_FORBIDDEN, exc.reason) from None
    db.commit()
    return _out(override)


@router.get("/break-glass/reviews", response_model=list[BreakGlassOut])
def break_glass_reviews(
    who: IgOfficer,
    db: Db,
    state: Literal["open", "closed", "all"] = "open",
    user: Annotated[str | None, Query(max_length=120)] = None,
) -> list[BreakGlassOut]:
    """The IG review list: overrides not yet closed (or closed, or all), one user's if named.
    Audited: the list names children and who looked at them."""
    overrides = review_list(db, state, user)
    uses = uses_of(db, [o.id for o in overrides])
    listed = AuditEvent(
        actor=who,
        action="break_glass_reviews",
        outcome="disclosed",
        fields_disclosed=[f"break-glass:{o.id}" for o in overrides],
        reason=f"{len(overrides)} overrides listed ({state})",
    )
    append(db, listed)
    db.commit()
    return [_out(o, uses[o.id]) for o in overrides]


class OverridesOfUser(BaseModel):
    user: str
    organisation: str
    overrides: int
    open_for_review: int


@router.get("/break-glass/by-user", response_model=list[OverridesOfUser])
def break_glass_by_user(who: IgOfficer, db: Db) -> list[OverridesOfUser]:
    """For IG: who breaks the glass, how often, and how many of theirs wait for review."""
    return [
        OverridesOfUser(user=u, organisation=o, overrides=n, open_for_review=w)
        for u, o, n, w in overrides_by_user(db)
    ]


@router.post("/break-glass/{override_id}/close", response_model=BreakGlassOut)
def close_break_glass(
    override_id: Annotated[int, Path(ge=1, le=MAX_ID)],
    request: CloseReviewRequest,
    who: IgOfficer,
    db: Db,
) -> BreakGlassOut:
    """An IG officer closes the review of one override, with what the review found."""
    try:
        override = close_review(db, override_id, who, request.note)
    except BreakGlassRefusedError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, exc.reason) from None
    _audit(db, who, "break_glass_review", override.child_id, override.purpose)
    db.commit()
    return _out(override)


def _out(override: object, uses: int = 0) -> BreakGlassOut:
    fields = {
        name: getattr(override, "actor" if name == "user" else name)
        for name in BreakGlassOut.model_fields
        if name != "uses"
    }
    return BreakGlassOut.model_validate({**fields, "uses": uses})
