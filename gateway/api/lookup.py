"""``/api/v1/purposes`` and ``/api/v1/lookup``: one child's minimised summary, audited.

No ``from __future__ import annotations``: FastAPI reads the annotations at runtime.
"""

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, status
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import State

from gateway import clock
from gateway.access.agreements import Agreement, decide
from gateway.access.audit import Actor
from gateway.access.purposes import PURPOSES, Purpose, UnknownPurposeError, purpose_for
from gateway.api.deps import COMMON_RESPONSES, rate_limited
from gateway.identifiers import compact_nhs_number, compact_upn, is_valid_nhs_number, is_valid_upn
from gateway.policy.async_lookup import AsyncLookups
from gateway.policy.disclosure import Disclosure, Refusal, disclose, record_refusal
from gateway.read_model import child_with_records, find_child_id

router = APIRouter(prefix="/api/v1", responses=COMMON_RESPONSES)


class LookupRequest(BaseModel):
    purpose: str | None = Field(
        None, max_length=60, description="One of the codes from GET /api/v1/purposes"
    )
    nhs_number: str | None = Field(None, max_length=20)
    upn: str | None = Field(None, max_length=20)
    child_id: str | None = Field(None, max_length=40)


class PurposeOut(BaseModel):
    code: str
    title: str
    statute: str
    lawful_basis: str
    requires_consent: bool


@router.get("/purposes", response_model=list[PurposeOut])
def purposes() -> list[PurposeOut]:
    """The purposes a lookup may state, each with its statute and UK GDPR bases."""
    return [
        PurposeOut(
            code=p.code,
            title=p.title,
            statute=p.statute,
            lawful_basis=p.lawful_basis,
            requires_consent=p.requires_consent,
        )
        for p in PURPOSES.values()
    ]


def checked_identifiers(
    db: Session, who: Actor, purpose: Purpose, request: LookupRequest
) -> tuple[str | None, str | None]:
    """The request's NHS number and UPN in normal form; 422 for a failing check (audited as a
    refusal), the identifier never echoed."""
    nhs = compact_nhs_number(request.nhs_number) if request.nhs_number else None
    upn = compact_upn(request.upn) if request.upn else None
    problem = None
    if nhs and not is_valid_nhs_number(nhs):
        problem = "the NHS number fails its check digit"
    elif upn and not is_valid_upn(upn):
        problem = "the UPN fails its check letter"
    elif not (nhs or upn or request.child_id):
        problem = "give an NHS number, a UPN or a child id"
    if problem:
        record_refusal(db, who, action="lookup", outcome="bad_identifier", purpose=purpose)
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, problem)
    return nhs, upn


def stated_purpose(db: Session, who: Actor, code: str | None, action: str) -> Purpose:
    """The request's purpose; no purpose (or an unknown one) is refused, and audited."""
    try:
        return purpose_for(code)
    except UnknownPurposeError as exc:
        record_refusal(db, who, action=action, outcome="no_purpose", purpose_given=code)
        raise HTTPException(status.HTTP_400_BAD_REQUEST, exc.reason) from None


@router.post(
    "/lookup",
    response_model=Disclosure,
    responses={403: {"description": "refused (and audited), with the reason"}},
)
async def lookup(
    request: LookupRequest, http: Request, who: Annotated[Actor, Depends(rate_limited)]
) -> Disclosure:
    """A child's summary, minimised to what the agreement allows for this role and purpose."""
    return await answer_lookup(request, who, http.app.state)


async def answer_lookup(request: LookupRequest, who: Actor, state: State) -> Disclosure:
    """The lookup route's answer (``state``: the app's), from whichever path serves it; an
    ``HTTPException`` for a refusal, a bad request or no match, each audited. The FHIR Flag
    search (``gateway.api.fhir``) asks here too, so that both give the same answer."""
    fast: AsyncLookups | None = state.async_lookups
    if fast is not None and request.child_id and not (request.nhs_number or request.upn):
        # Allowed, by child id, no consent needed: on the event loop, one statement (async_lookup).
        purpose = PURPOSES.get(request.purpose or "")
        if purpose is not None and not purpose.requires_consent:
            decision = decide(state.agreements, who, purpose.code, clock.today())
            if decision.allowed:
                answer = await fast.lookup(who, purpose, request.child_id, decision)
                if answer is not None:
                    return answer
    # Anything else (refused, consent, break-glass, not found...) is decided and recorded here.
    # The session and all the database work on one worker thread (one hop, no more); the
    # answer is serialised back on the event loop.
    return await run_in_threadpool(_lookup, request, who, state.sessions, state.agreements)


def _lookup(
    request: LookupRequest,
    who: Actor,
    sessions: sessionmaker[Session],
    agreements: list[Agreement],
) -> Disclosure:
    with sessions() as db:
        return _lookup_in(db, request, who, agreements)


def _lookup_in(
    db: Session, request: LookupRequest, who: Actor, agreements: list[Agreement]
) -> Disclosure:
    """Read the child and its records (one query), decide, audit and commit."""
    purpose = stated_purpose(db, who, request.purpose, "lookup")
    nhs, upn = checked_identifiers(db, who, purpose, request)
    child_id = request.child_id or find_child_id(db, nhs_number=nhs, upn=upn)
    child = child_with_records(db, child_id) if child_id else None
    if child is None:
        record_refusal(db, who, action="lookup", outcome="not_found", purpose=purpose)
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no child in the index matches")
    try:
        answer = disclose(db, who, purpose, child, agreements=agreements)
    except Refusal as refusal:
        db.commit()
        raise HTTPException(status.HTTP_403_FORBIDDEN, refusal.reason) from None
    db.commit()  # the answer leaves only once its audit entry is durable
    return answer
