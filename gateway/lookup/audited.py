"""Search and caseload as the policy allows, each recorded in the audit log (refusals too).

Plain functions for the API and the web pages alike: they decide by the agreements, answer
and append the audit entry in the caller's transaction; the caller commits before answering
(also after a ``Refusal``, so the refusal is recorded).
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy.orm import Session

from gateway.access.agreements import Agreement, SharingDecision, decide
from gateway.access.audit import Actor, AuditEvent, append
from gateway.access.purposes import Purpose, UnknownPurposeError, purpose_for
from gateway.identifiers import compact_nhs_number, compact_upn, is_valid_nhs_number, is_valid_upn
from gateway.lookup.caseload import CaseloadEntry, SharedFacts, ehe_caseload
from gateway.lookup.disclosure import Refusal
from gateway.lookup.search import Candidate, Demographics, search_children
from gateway.lookup.summary import ChildSummary, find_child_id, records_of, resolve_child, summarise


def allowed_or_refused(
    session: Session,
    actor: Actor,
    purpose: Purpose,
    *,
    action: str,
    agreements: list[Agreement],
    today: date | None = None,
) -> SharingDecision:
    """The clause covering this actor and purpose; else the refusal is audited and raised."""
    decision = decide(agreements, actor, purpose.code, today or datetime.now(UTC).date())
    if not decision.allowed:
        append(
            session,
            AuditEvent(
                actor=actor,
                action=action,
                outcome="refused",
                purpose=purpose.code,
                lawful_basis=purpose.lawful_basis,
                reason=decision.reason,
            ),
        )
        raise Refusal("refused", decision.reason)
    return decision


def audited_search(
    session: Session,
    actor: Actor,
    purpose: Purpose,
    query: Demographics,
    *,
    agreements: list[Agreement],
    limit: int = 10,
) -> list[Candidate]:
    """Candidates for the demographics, if an agreement covers the asker; audited either way."""
    decision = allowed_or_refused(session, actor, purpose, action="search", agreements=agreements)
    candidates = search_children(session, query, limit=limit)
    append(
        session,
        AuditEvent(
            actor=actor,
            action="search",
            outcome="candidates" if candidates else "no_match",
            purpose=purpose.code,
            lawful_basis=purpose.lawful_basis,
            agreement_clause=decision.clause_ref,
            fields_disclosed=[f"candidate:{c.child_id}" for c in candidates],
        ),
    )
    return candidates


def audited_caseload(
    session: Session,
    actor: Actor,
    purpose: Purpose,
    *,
    agreements: list[Agreement],
    unseen_months: int = 6,
    limit: int | None = None,
    today: date | None = None,
) -> list[CaseloadEntry]:
    """The EHE worklist as the asker's clause shares it; audited either way."""
    day = today or datetime.now(UTC).date()
    decision = allowed_or_refused(
        session, actor, purpose, action="caseload", agreements=agreements, today=day
    )
    shared = SharedFacts(sources=decision.sources, fields=decision.fields)
    entries = ehe_caseload(
        session, today=day, unseen_months=unseen_months, limit=limit, shared=shared
    )
    append(
        session,
        AuditEvent(
            actor=actor,
            action="caseload",
            outcome="disclosed",
            purpose=purpose.code,
            lawful_basis=purpose.lawful_basis,
            agreement_clause=decision.clause_ref,
            fields_disclosed=list(CaseloadEntry.model_fields),
            reason=f"{len(entries)} children listed",
        ),
    )
    return entries


# The web pages' lookup (to be replaced by ``disclose`` so that both follow the agreements).
LOOKUP_ROLES = frozenset({"ehe_officer", "social_worker", "health_practitioner", "admin"})


class LookupRefused(Exception):
    """A lookup that gave no answer; ``outcome`` is what the audit log says."""

    def __init__(self, outcome: str, message: str) -> None:
        super().__init__(message)
        self.outcome = outcome
        self.message = message


def classify_identifier(text: str) -> tuple[str, str]:
    """("nhs_number" | "upn" | "child_id", normal form) for what a person typed.

    Raises ``ValueError`` with a message fit to show (never echoing the value).
    """
    cleaned = text.strip()
    if not cleaned:
        raise ValueError("Enter an NHS number, a UPN or a child id")
    digits = compact_nhs_number(cleaned)
    if digits.isdigit() and len(digits) == 10:
        if not is_valid_nhs_number(digits):
            raise ValueError("The NHS number fails its check digit: check it and try again")
        return "nhs_number", digits
    upn = compact_upn(cleaned)
    if len(upn) == 13 and upn[0].isalpha() and upn[1:12].isdigit():
        if not is_valid_upn(upn):
            raise ValueError("The UPN fails its check letter: check it and try again")
        return "upn", upn
    return "child_id", cleaned


def _refuse(
    session: Session,
    actor: Actor,
    *,
    outcome: str,
    message: str,
    purpose: Purpose | None,
    given: str | None,
) -> LookupRefused:
    event = AuditEvent(
        actor=actor,
        action="lookup",
        outcome=outcome,
        purpose=(purpose.code if purpose else given[:60] if given else None),
        lawful_basis=purpose.lawful_basis if purpose else None,
    )
    append(session, event)
    session.commit()
    return LookupRefused(outcome, message)


def audited_summary(
    session: Session, actor: Actor, purpose_code: str | None, identifier: str
) -> ChildSummary:
    """The child's summary for ``actor`` and the stated purpose, audited; else LookupRefused."""
    try:
        purpose = purpose_for(purpose_code)
    except UnknownPurposeError:
        raise _refuse(
            session,
            actor,
            outcome="no_purpose",
            message="Choose why you need to know",
            purpose=None,
            given=purpose_code,
        ) from None
    if actor.role not in LOOKUP_ROLES:
        raise _refuse(
            session,
            actor,
            outcome="refused_role",
            message="Your role may not look up a child",
            purpose=purpose,
            given=None,
        )
    try:
        kind, value = classify_identifier(identifier)
    except ValueError as exc:
        raise _refuse(
            session, actor, outcome="bad_identifier", message=str(exc), purpose=purpose, given=None
        ) from None
    child_id = find_child_id(session, **{kind: value})
    child = resolve_child(session, child_id) if child_id else None
    if child is None:
        raise _refuse(
            session,
            actor,
            outcome="not_found",
            message="No child in the index matches",
            purpose=purpose,
            given=None,
        )
    summary = summarise(child, records_of(session, child.child_id))
    append(
        session,
        AuditEvent(
            actor=actor,
            action="lookup",
            outcome="disclosed",
            purpose=purpose.code,
            lawful_basis=purpose.lawful_basis,
            child_id=child.child_id,
            fields_disclosed=summary.disclosed_fields(),
        ),
    )
    session.commit()
    return summary
