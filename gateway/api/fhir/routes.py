"""``/fhir/r4``: the CapabilityStatement, our Flag codes and the Flag search, over the lookup
route's answer.

A Flag search is a lookup: the same request (purpose, NHS number) goes to the lookup route's
own code (``gateway.api.lookup.answer_lookup``), so the policy point decides it, the audit log
records it (refusals, bad identifiers and no match too) and the answer is the same one the
lookup API gives the same person for the same purpose. Only its form differs:

- a match: a searchset Bundle of Flags (``flags.flags_of``), none if nothing is raised;
- no child in the index: an empty searchset Bundle (``total`` 0);
- no purpose, an unknown one, a missing or failing NHS number: 400 OperationOutcome;
- refused by the agreement (or for want of consent): 403 OperationOutcome with the reason.

No ``from __future__ import annotations``: FastAPI reads the annotations at runtime.
"""

from urllib.parse import parse_qsl

from fastapi import APIRouter, HTTPException, Request, status
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import State

from gateway.access.audit import Actor
from gateway.access.tokens import VerifiedToken
from gateway.api.auth import verified_token
from gateway.api.deps import within_rate
from gateway.api.fhir.capability import (
    FLAG_SCOPES,
    PURPOSE_HEADER,
    capability_statement,
    grants_flag_search,
)
from gateway.api.fhir.codes import CODE_SYSTEM_ID, flag_code_system
from gateway.api.fhir.flags import (
    FHIR_JSON,
    NHS_NUMBER_SYSTEM,
    answer_notes,
    flags_of,
    searchset,
)
from gateway.api.lookup import LookupRequest, answer_lookup
from gateway.identifiers import compact_nhs_number
from gateway.policy.disclosure import record_refusal

BASE = "/fhir/r4"
router = APIRouter(prefix=BASE, include_in_schema=False)
IDENTIFIER = "patient.identifier"
# Accepted and ignored: the answer is always JSON, and never more than a few Flags.
IGNORED = frozenset({"_format", "_count"})
FORM = "application/x-www-form-urlencoded"
NO_IDENTIFIER = f"give {IDENTIFIER}={NHS_NUMBER_SYSTEM}|<the child's NHS number>"


def _fhir(resource_json: str, status_code: int = 200) -> Response:
    return Response(resource_json, status_code=status_code, media_type=FHIR_JSON)


@router.get("/metadata")
def metadata(request: Request) -> Response:
    """The CapabilityStatement (no token needed: it says nothing about any child)."""
    base = str(request.base_url).rstrip("/") + BASE
    return _fhir(capability_statement(base).model_dump_json())


@router.get(f"/CodeSystem/{CODE_SYSTEM_ID}")
def flag_codes() -> Response:
    """Our Flag codes (no token needed: they say nothing about any child)."""
    return _fhir(flag_code_system().model_dump_json())


@router.get("/Flag")
async def search_flags(request: Request) -> Response:
    """``Flag?patient.identifier=https://fhir.nhs.uk/Id/nhs-number|N``."""
    return await _search(request, list(request.query_params.multi_items()))


@router.post("/Flag/_search")
async def search_flags_by_post(request: Request) -> Response:
    """The same search, its parameters form-encoded in the body (the identifier not in the URL)."""
    kind = request.headers.get("content-type", FORM).split(";")[0].strip().lower()
    if kind != FORM:
        raise HTTPException(status.HTTP_415_UNSUPPORTED_MEDIA_TYPE, f"send the search as {FORM}")
    body = (await request.body()).decode("utf-8", errors="replace")
    pairs = list(request.query_params.multi_items()) + parse_qsl(body, keep_blank_values=True)
    return await _search(request, pairs)


async def _search(request: Request, pairs: list[tuple[str, str]]) -> Response:
    who = await flag_reader(request)
    nhs_number = _nhs_number_in(pairs)
    purpose = (request.headers.get(PURPOSE_HEADER) or "").strip()[:60] or None
    asked = LookupRequest(purpose=purpose, nhs_number=nhs_number)
    state: State = request.app.state
    try:
        answer = await answer_lookup(asked, who, state)
    except HTTPException as exc:
        if exc.status_code == status.HTTP_404_NOT_FOUND:  # no match (audited): no Flags
            return _fhir(searchset([], []).model_dump_json())
        if exc.status_code == status.HTTP_422_UNPROCESSABLE_CONTENT:  # a bad identifier
            reason = exc.detail if nhs_number else NO_IDENTIFIER
            raise HTTPException(status.HTTP_400_BAD_REQUEST, reason) from None
        raise
    flags = flags_of(answer, compact_nhs_number(nhs_number or ""))
    return _fhir(searchset(flags, answer_notes(answer)).model_dump_json())


async def flag_reader(request: Request) -> Actor:
    """The caller, from a bearer token in the Authorization header (never the web cookie),
    allowed by its scopes (if it carries any) and within its rate limit. A token whose scopes
    grant no Flag search is refused (403 ``insufficient_scope``) and the refusal audited."""
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    token = credentials.strip() if scheme.lower() == "bearer" else None
    verified = await verified_token(request, token or None)
    await within_rate(request, verified.actor)
    if not _may_search(verified):
        await run_in_threadpool(_record_scope_refusal, request.app.state, verified.actor)
        wanted = " ".join(FLAG_SCOPES)
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            f"insufficient_scope: the token grants no scope to search Flags (one of: {wanted})",
            headers={"WWW-Authenticate": f'Bearer error="insufficient_scope", scope="{wanted}"'},
        )
    return verified.actor


def _may_search(verified: VerifiedToken) -> bool:
    """A token without scopes is the gateway's own kind (its role and the agreements decide);
    one with scopes must grant a Flag search."""
    return verified.scopes is None or any(grants_flag_search(s) for s in verified.scopes)


def _record_scope_refusal(state: State, who: Actor) -> None:
    with state.sessions() as db:
        record_refusal(db, who, action="lookup", outcome="insufficient_scope")


def _nhs_number_in(pairs: list[tuple[str, str]]) -> str | None:
    """The NHS number searched for, or None if none is given under the NHS number system (the
    lookup then refuses it, audited); 400 for a search this endpoint does not offer."""
    unknown = sorted({name[:40] for name, _ in pairs if name not in IGNORED | {IDENTIFIER}})
    if unknown:
        raise HTTPException(
            status.HTTP_400_BAD_REQUEST,
            f"unknown search parameters: {', '.join(unknown)}; this server searches Flags by "
            f"{IDENTIFIER} only",
        )
    formats = [value for name, value in pairs if name == "_format"]
    if any("json" not in value for value in formats):
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "this server answers in JSON only")
    values = [value for name, value in pairs if name == IDENTIFIER]
    if len(values) > 1 or any("," in value for value in values):
        raise HTTPException(
            status.HTTP_400_BAD_REQUEST, f"give one {IDENTIFIER}: one child per search"
        )
    if not values:
        return None
    system, bar, number = values[0].partition("|")
    if not bar or system != NHS_NUMBER_SYSTEM or not number or len(number) > 20:
        return None
    return number
