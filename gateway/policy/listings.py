"""Search and caseload as the policy allows, each recorded in the audit log (refusals too).

Plain functions for the API and the web pages alike: they decide by the agreements, answer
and append the audit entry in the caller's transaction; the caller commits before answering
(also after a ``Refusal``, so the refusal is recorded).
"""

from __future__ import annotations

from datetime import date

from sqlalchemy.orm import Session

from gateway import clock
from gateway.access.agreements import Agreement, SharingDecision, decide
from gateway.access.audit import SHOWN_CANDIDATE, SHOWN_CHILD, Actor, AuditEvent, append
from gateway.access.consent import children_with_consent
from gateway.access.purposes import Purpose
from gateway.lookup.caseload import CaseloadEntry, SharedFacts, ehe_caseload
from gateway.lookup.search import Candidate, Demographics, search_children
from gateway.policy.disclosure import Refusal, restricted_notice


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
    decision = decide(agreements, actor, purpose.code, today or clock.today())
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
    consented = _consented(session, purpose)
    candidates = [
        # Which agencies know a candidate is shown only for the agencies the clause covers.
        c.model_copy(update={"known_to": [a for a in c.known_to if a in decision.sources]})
        for c in search_children(session, query, limit=limit)
        if consented is None or c.child_id in consented
    ]
    append(
        session,
        AuditEvent(
            actor=actor,
            action="search",
            outcome="candidates" if candidates else "no_match",
            purpose=purpose.code,
            lawful_basis=purpose.lawful_basis,
            agreement_clause=decision.clause_ref,
            fields_disclosed=[f"{SHOWN_CANDIDATE}{c.child_id}" for c in candidates],
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
    day = today or clock.today()
    decision = allowed_or_refused(
        session, actor, purpose, action="caseload", agreements=agreements, today=day
    )
    shared = SharedFacts(sources=decision.sources, fields=decision.fields)
    consented = _consented(session, purpose)
    entries = [
        _existence_only(e, decision) if e.restricted else e
        for e in ehe_caseload(session, today=day, unseen_months=unseen_months, shared=shared)
        if consented is None or e.child_id in consented
    ][:limit]
    append(
        session,
        AuditEvent(
            actor=actor,
            action="caseload",
            outcome="disclosed",
            purpose=purpose.code,
            lawful_basis=purpose.lawful_basis,
            agreement_clause=decision.clause_ref,
            # One entry for the view, naming every child shown (a subject access export finds
            # it for each of them).
            fields_disclosed=[
                *CaseloadEntry.model_fields,
                *(f"{SHOWN_CHILD}{e.child_id}" for e in entries),
            ],
            reason=f"{len(entries)} children listed",
        ),
    )
    return entries


def _consented(session: Session, purpose: Purpose) -> set[str] | None:
    """Under a purpose that needs the family's consent, only the children whose consent is in
    force may be listed (None: the purpose needs none)."""
    return children_with_consent(session, purpose.code) if purpose.requires_consent else None


def _existence_only(entry: CaseloadEntry, decision: SharingDecision) -> CaseloadEntry:
    """A restricted child's row: that the child is on the caseload, and whom to contact."""
    return CaseloadEntry(
        child_id=entry.child_id, restricted=True, notice=restricted_notice(decision)
    )
