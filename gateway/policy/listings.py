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
from gateway.access.purposes import Purpose
from gateway.lookup.caseload import CaseloadEntry, SharedFacts, ehe_caseload
from gateway.lookup.disclosure import Refusal
from gateway.lookup.search import Candidate, Demographics, search_children


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
