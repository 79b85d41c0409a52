"""An audited lookup of one child's minimised summary: the core the web pages call.

Purpose first (no purpose, no answer), then a valid identifier, then the child; every outcome,
refusals included, goes in the audit log in the same transaction as the read, and the answer
is returned only once that entry is committed. (The API keeps its own copy of these steps
until the access policy lands; both should call one policy function then.)
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from gateway.access.audit import Actor, AuditEvent, append
from gateway.access.purposes import Purpose, UnknownPurposeError, purpose_for
from gateway.identifiers import compact_nhs_number, compact_upn, is_valid_nhs_number, is_valid_upn
from gateway.lookup.summary import ChildSummary, find_child_id, records_of, resolve_child, summarise

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
