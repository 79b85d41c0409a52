"""The lookup API: every lookup states a purpose, gets a minimised answer, and is audited.

Identity of the caller: until OIDC bearer tokens arrive, the demo reads ``X-User``,
``X-Organisation`` and ``X-Role`` headers (set by the local demo front end); a request
without them is refused. Identifiers are POSTed, never put in URLs.

No ``from __future__ import annotations`` here: FastAPI must see the annotations of the
nested route functions as objects.
"""

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, FastAPI, Header, HTTPException, status
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from gateway.access.audit import Actor, AuditEvent, append
from gateway.access.purposes import PURPOSES, Purpose, UnknownPurposeError, purpose_for
from gateway.api.metrics import metrics_router
from gateway.identifiers import compact_nhs_number, compact_upn, is_valid_nhs_number, is_valid_upn
from gateway.lookup.summary import ChildSummary, find_child_id, records_of, resolve_child, summarise
from gateway.store.engine import session_factory

ROLES = (
    "ehe_officer",
    "social_worker",
    "health_practitioner",
    "data_engineer",
    "ig_officer",
    "admin",
)


class LookupRequest(BaseModel):
    purpose: str | None = Field(None, description="One of the codes from GET /api/v1/purposes")
    nhs_number: str | None = None
    upn: str | None = None
    child_id: str | None = None


class PurposeOut(BaseModel):
    code: str
    title: str
    statute: str
    lawful_basis: str
    requires_consent: bool


def current_actor(
    x_user: Annotated[str | None, Header()] = None,
    x_organisation: Annotated[str | None, Header()] = None,
    x_role: Annotated[str | None, Header()] = None,
) -> Actor:
    """Who is asking (demo headers until OIDC): all three are required, the role must be known."""
    if not (x_user and x_organisation and x_role):
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, "say who is asking: X-User, X-Organisation, X-Role"
        )
    if x_role not in ROLES:
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"unknown role; known: {', '.join(ROLES)}")
    return Actor(x_user, x_organisation, x_role)


def checked_identifiers(request: LookupRequest) -> tuple[str | None, str | None]:
    """The request's NHS number and UPN in normal form; 422 for a failing check, never echoed."""
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
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, problem)
    return nhs, upn


def create_app(index_url: str | None = None) -> FastAPI:
    app = FastAPI(
        title="EHE gateway lookup API",
        version="1",
        openapi_url="/api/v1/openapi.json",
        docs_url="/api/v1/docs",
    )
    Session_ = session_factory(index_url)
    app.include_router(metrics_router(index_url))

    def database() -> Iterator[Session]:
        with Session_() as session:
            yield session

    @app.get("/api/v1/purposes", response_model=list[PurposeOut])
    def purposes() -> list[PurposeOut]:
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

    @app.post("/api/v1/lookup", response_model=ChildSummary)
    def lookup(
        request: LookupRequest,
        who: Annotated[Actor, Depends(current_actor)],
        db: Annotated[Session, Depends(database)],
    ) -> ChildSummary:
        try:
            purpose = purpose_for(request.purpose)
        except UnknownPurposeError as exc:
            record_refusal(db, who, outcome="no_purpose", purpose_given=request.purpose)
            raise HTTPException(status.HTTP_400_BAD_REQUEST, exc.reason) from None
        nhs, upn = checked_identifiers(request)
        child_id = find_child_id(db, nhs_number=nhs, upn=upn, child_id=request.child_id)
        child = resolve_child(db, child_id) if child_id else None
        if child is None:
            record_refusal(
                db, who, outcome="not_found", purpose_given=purpose.code, purpose=purpose
            )
            raise HTTPException(status.HTTP_404_NOT_FOUND, "no child in the index matches")
        summary = summarise(child, records_of(db, child.child_id))
        event = AuditEvent(
            actor=who,
            action="lookup",
            outcome="disclosed",
            purpose=purpose.code,
            lawful_basis=purpose.lawful_basis,
            child_id=child.child_id,
            fields_disclosed=summary.disclosed_fields(),
        )
        append(db, event)
        db.commit()  # the answer leaves only once its audit entry is durable
        return summary

    return app


def record_refusal(
    db: Session,
    who: Actor,
    *,
    outcome: str,
    purpose_given: str | None,
    purpose: Purpose | None = None,
) -> None:
    """A refusal is audited like a disclosure (the purpose as given, cut to the column width)."""
    event = AuditEvent(
        actor=who,
        action="lookup",
        outcome=outcome,
        purpose=purpose_given[:60] if purpose_given else None,
        lawful_basis=purpose.lawful_basis if purpose else None,
    )
    append(db, event)
    db.commit()
