"""One lookup, decided and recorded: agreement, consent, restriction, break-glass, audit.

``disclose`` is the whole policy in one plain function (no web framework): it reads the child's
records, decides what this actor may see for this purpose, minimises the answer and appends
the audit entry, all in the caller's transaction. The caller commits before answering, so an
answer whose audit entry cannot be written never leaves (fail closed). Refusals are recorded
like disclosures.
"""

from __future__ import annotations

import hashlib
import json
from datetime import date
from typing import Any

from pydantic import BaseModel
from pydantic_core import to_jsonable_python
from sqlalchemy.orm import Session

from gateway import clock
from gateway.access.agreements import Agreement, SharingDecision, decide
from gateway.access.audit import Actor, AuditEvent, append
from gateway.access.break_glass import active_override, clause_of
from gateway.access.consent import has_consent
from gateway.access.purposes import Purpose
from gateway.errors import RequestRefusedError
from gateway.lookup.summary import ChildRef, summarise
from gateway.model import CanonicalRecord
from gateway.model.summary import ChildSummary, HeldRecordNotice
from gateway.read_model import FoundChild
from gateway.store.tables import BreakGlass

# Never disclosed for a restricted record, not even under break-glass: they say where a child is.
LOCATION_FIELDS = frozenset(
    {"education.last_school", "health.gp_practice_ods", "social_care.lead_team"}
)
EXISTENCE_FIELDS = frozenset({"child_id", "restricted", "known_to"})
# That an agency holds a record about the child back (agency and date, never content): shown
# to anyone a clause covers, for the agencies it covers; not for a restricted child, whose
# answer is existence and whom to contact only.
NOTICE_FIELDS = frozenset({"held_records"})
ALL_AGENCIES = frozenset({"education", "health", "social_care"})


class Disclosure(BaseModel):
    """What one lookup disclosed, why, and what it withheld."""

    outcome: str
    child_id: str
    purpose: str
    lawful_basis: str
    agreement_clause: str | None
    restricted: bool
    summary: dict[str, Any]
    fields_disclosed: list[str]
    fields_refused: list[str]
    notice: str | None = None


class Refusal(RequestRefusedError):
    """The lookup was refused (and audited): ``reason`` says why, without any child's data."""

    def __init__(self, outcome: str, reason: str) -> None:
        self.outcome = outcome
        super().__init__(reason)


def disclose(
    session: Session,
    actor: Actor,
    purpose: Purpose,
    child: FoundChild,
    *,
    agreements: list[Agreement],
    today: date | None = None,
) -> Disclosure:
    """Decide, minimise and audit one lookup of one child (raises ``Refusal`` when refused).

    The child comes from the read model (``child_with_records``) with its records and its
    restricted verdict."""
    decision = decide(agreements, actor, purpose.code, today or clock.today())
    override = (
        None if decision.allowed else active_override(session, actor, child.child_id, purpose.code)
    )
    consented = purpose.requires_consent and has_consent(session, child.child_id, purpose.code)
    disclosure, event = judged(actor, purpose, child, decision, override, consented=consented)
    append(session, event)
    if disclosure is None:
        raise Refusal(event.outcome, event.reason or "refused")
    return disclosure


def judged(
    actor: Actor,
    purpose: Purpose,
    child: FoundChild,
    decision: SharingDecision,
    override: BreakGlass | None,
    *,
    consented: bool,
) -> tuple[Disclosure | None, AuditEvent]:
    """The whole decision of one lookup, with nothing read or written: the answer (None if
    refused) and the audit entry that records it. ``disclose`` asks it with the index as it is
    now, a replay (``gateway.policy.replay``) with the index as it stood at an instant."""
    if not decision.allowed and override is None:
        return None, _refusal(
            actor,
            purpose,
            child.child_id,
            outcome="refused",
            reason=decision.reason,
            decision=decision,
        )
    if purpose.requires_consent and not consented:
        reason = f"purpose {purpose.code} needs the family's consent, and none is in force"
        return None, _refusal(
            actor, purpose, child.child_id, outcome="no_consent", reason=reason, decision=decision
        )
    return minimised(actor, purpose, child, child.records, decision=decision, override=override)


def answer_digest(summary: dict[str, Any], notice: str | None) -> str:
    """SHA-256 of the answer shown (the minimised summary and any notice) as canonical JSON:
    kept in the lookup's audit entry, so a replay can show it gives the same answer."""
    shown = {"summary": to_jsonable_python(summary), "notice": notice}
    canonical = json.dumps(shown, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


def minimised(
    actor: Actor,
    purpose: Purpose,
    child: ChildRef,
    every_record: list[CanonicalRecord],
    *,
    decision: SharingDecision,
    override: BreakGlass | None = None,
) -> tuple[Disclosure, AuditEvent]:
    """The answer an allowed lookup gives (or one under break-glass), and the audit entry
    that must be written in the same transaction before it leaves (with the answer's digest).
    No I/O."""
    sources = decision.sources if override is None else ALL_AGENCIES
    restricted = child.restricted  # the read model's verdict: the most restrictive label wins
    held = held_in(child, sources)
    summary = summarise(child, [r for r in every_record if r.agency in sources], held)
    event = lookup_event(
        actor, purpose, child.child_id, decision=decision, restricted=restricted, override=override
    )
    allowed = _allowed(decision, override, restricted)
    shown = _minimised(summary.flat(), allowed, restricted)
    notice = restricted_notice(decision) if restricted and override is None else None
    event.answer_digest = answer_digest(shown, notice)
    disclosure = Disclosure(
        outcome=event.outcome,
        child_id=child.child_id,
        purpose=purpose.code,
        lawful_basis=purpose.lawful_basis,
        agreement_clause=event.agreement_clause,
        restricted=restricted,
        summary=shown,
        fields_disclosed=event.fields_disclosed,
        fields_refused=event.fields_refused,
        notice=notice,
    )
    return disclosure, event


def held_in(child: ChildRef, sources: frozenset[str]) -> list[HeldRecordNotice]:
    """The notices of records held back about the child, of the agencies ``sources`` covers
    (a child read without them, such as by the one-statement lookup, has none)."""
    notices = getattr(child, "held", ())
    return [
        HeldRecordNotice(agency=n.agency, since=n.since, why=n.why)
        for n in notices
        if n.agency in sources
    ]


def lookup_event(
    actor: Actor,
    purpose: Purpose,
    child_id: str,
    *,
    decision: SharingDecision,
    restricted: bool,
    override: BreakGlass | None = None,
) -> AuditEvent:
    """The audit entry of an allowed lookup (or one under break-glass): which fields it
    discloses depends only on the decision, the override and whether the child is restricted,
    never on the values (every summary has every field)."""
    allowed = _allowed(decision, override, restricted)
    fields = ChildSummary.field_names()
    return AuditEvent(
        actor=actor,
        action="lookup",
        outcome="break_glass" if override else ("restricted" if restricted else "disclosed"),
        purpose=purpose.code,
        lawful_basis=purpose.lawful_basis,
        child_id=child_id,
        fields_disclosed=sorted(f for f in fields if f in allowed),
        fields_refused=sorted(f for f in fields if f not in allowed),
        agreement_clause=(decision.clause_ref if override is None else clause_of(override.id)),
    )


def _allowed(decision: SharingDecision, override: BreakGlass | None, restricted: bool) -> set[str]:
    allowed = set(EXISTENCE_FIELDS | NOTICE_FIELDS)
    allowed |= decision.fields if override is None else _every_field()
    if restricted:
        allowed -= LOCATION_FIELDS
        if override is None:
            allowed &= EXISTENCE_FIELDS
    return allowed


def _every_field() -> frozenset[str]:
    return frozenset(ChildSummary.field_names())


def restricted_notice(decision: SharingDecision) -> str:
    contact = decision.agreement.restricted_contact if decision.agreement else None
    return contact or "This child's record is restricted: contact your information governance team."


def _minimised(values: dict[str, Any], allowed: set[str], restricted: bool) -> dict[str, Any]:
    """Only the allowed fields, nested by section as in the summary."""
    answer: dict[str, Any] = {}
    for name, value in values.items():
        if name not in allowed:
            continue
        section, _, field = name.partition(".")
        if field:
            answer.setdefault(section, {})[field] = value
        else:
            answer[name] = value
    answer["restricted"] = restricted
    return answer


def _refusal(
    actor: Actor,
    purpose: Purpose,
    child_id: str,
    *,
    outcome: str,
    reason: str,
    decision: SharingDecision,
) -> AuditEvent:
    return AuditEvent(
        actor=actor,
        action="lookup",
        outcome=outcome,
        purpose=purpose.code,
        lawful_basis=purpose.lawful_basis,
        child_id=child_id,
        fields_refused=ChildSummary.field_names(),
        agreement_clause=decision.clause_ref,
        reason=reason,
    )


def record_refusal(
    db: Session,
    who: Actor,
    *,
    action: str,
    outcome: str,
    purpose_given: str | None = None,
    purpose: Purpose | None = None,
) -> None:
    """A refusal before any child is found (no purpose, a bad identifier, no match) is audited
    like a disclosure (the purpose as given, cut to the column width) and committed."""
    given = purpose.code if purpose else purpose_given
    append(
        db,
        AuditEvent(
            actor=who,
            action=action,
            outcome=outcome,
            purpose=given[:60] if given else None,
            lawful_basis=purpose.lawful_basis if purpose else None,
        ),
    )
    db.commit()
