"""Consent, recorded separately from lawful basis; needed only where the purpose says so.

Consent is recorded with its evidence (``ConsentEvidence``: who gave it, as their relation to
the child; the day; how; a reference to where the evidence is kept) and who recorded it, and
only by a role a data-sharing agreement names for it (``consent_roles``) at one of its parties,
for a purpose it covers: an administrator of no agreement cannot record or withdraw consent.
A withdrawal takes effect on the next request: every check reads the table afresh.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Literal

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from gateway import clock
from gateway.access.agreements import Agreement, may_record_consent
from gateway.access.audit import Actor, AuditEvent
from gateway.access.purposes import purpose_for
from gateway.errors import RequestRefusedError
from gateway.store.tables import Consent

Giver = Literal["parent", "carer", "young_person"]
Method = Literal["written", "verbal", "electronic"]
MIN_REFERENCE = 3
MAX_REFERENCE = 200


class NoSuchConsentError(RequestRefusedError):
    """There is no consent in force for that child and scope to withdraw."""


class ConsentRefusedError(RequestRefusedError):
    """The consent cannot be recorded or withdrawn: the role is not named, or evidence lacks."""


@dataclass(frozen=True)
class ConsentEvidence:
    """How the consent is known: who gave it, the day, how, and where the evidence is kept
    (a document or case-note reference, never the document or anyone's name)."""

    given_by: Giver
    given_on: date
    method: Method
    reference: str

    def problem(self) -> str | None:
        """What is wrong with it, if anything: a day in the future, or no usable reference."""
        if self.given_on > clock.today():
            return "the day consent was given cannot be in the future"
        if not MIN_REFERENCE <= len(self.reference.strip()) <= MAX_REFERENCE:
            return (
                f"give a reference to the evidence ({MIN_REFERENCE} to {MAX_REFERENCE} "
                "characters: where the signed form, call note or e-mail is kept)"
            )
        return None


def check_may_record(agreements: list[Agreement], recorder: Actor, scope: str) -> None:
    """Refuse unless an agreement in force for the scope names the recorder's role for consent."""
    purpose_for(scope)  # only known purposes
    if not may_record_consent(agreements, recorder, scope, clock.today()):
        raise ConsentRefusedError(
            "no data-sharing agreement lets your role and organisation record consent for "
            "this purpose"
        )


def record_consent(
    session: Session,
    recorder: Actor,
    child_id: str,
    scope: str,
    evidence: ConsentEvidence,
    *,
    agreements: list[Agreement],
) -> Consent:
    """Record consent for one purpose (``scope`` is a purpose code) with its evidence, in the
    caller's transaction; only a role the agreements name for consent may."""
    check_may_record(agreements, recorder, scope)
    problem = evidence.problem()
    if problem:
        raise ConsentRefusedError(problem)
    consent = Consent(
        child_id=child_id,
        scope=scope,
        given_by=evidence.given_by,
        given_on=evidence.given_on,
        method=evidence.method,
        evidence_ref=evidence.reference.strip(),
        recorded_at=datetime.now(UTC),
        recorded_by=recorder.user,
        recorded_by_organisation=recorder.organisation,
        recorded_by_role=recorder.role,
    )
    session.add(consent)
    session.flush()
    return consent


def consent_audit_event(recorder: Actor, consent: Consent) -> AuditEvent:
    """The audit entry of a consent recorded: the child, the purpose, and the evidence's kind
    (who by relation, how, which day, the consent's id); never the reference's text, which a
    person typed and may name someone."""
    return AuditEvent(
        actor=recorder,
        action="consent_given",
        outcome="recorded",
        purpose=consent.scope,
        child_id=consent.child_id,
        agreement_clause=f"consent:{consent.id}",
        reason=f"given by {consent.given_by}, {consent.method}, on {consent.given_on}",
    )


def consent_withdrawn_event(
    recorder: Actor, child_id: str, scope: str, withdrawn: int
) -> AuditEvent:
    """The audit entry of a withdrawal recorded: the child, the purpose, how many consents."""
    return AuditEvent(
        actor=recorder,
        action="consent_withdrawn",
        outcome="recorded",
        purpose=scope,
        child_id=child_id,
        reason=f"{withdrawn} consent(s) withdrawn",
    )


def withdraw_consent(
    session: Session,
    recorder: Actor,
    child_id: str,
    scope: str,
    *,
    agreements: list[Agreement],
) -> int:
    """Withdraw every consent in force for the child and scope; how many were withdrawn."""
    check_may_record(agreements, recorder, scope)
    held = consents_in_force(session, child_id, scope)
    if not held:
        raise NoSuchConsentError(f"no consent in force for scope {scope}")
    now = datetime.now(UTC)
    for consent in held:
        consent.withdrawn_at = now
        consent.withdrawn_recorded_by = recorder.user
    session.flush()
    return len(held)


def consents_in_force(session: Session, child_id: str, scope: str) -> list[Consent]:
    return list(
        session.scalars(
            select(Consent).where(
                Consent.child_id == child_id,
                Consent.scope == scope,
                Consent.withdrawn_at.is_(None),
            )
        )
    )


def consents_of(session: Session, child_id: str) -> list[Consent]:
    """Every consent ever recorded for the child, withdrawn ones included, oldest first."""
    return list(
        session.scalars(select(Consent).where(Consent.child_id == child_id).order_by(Consent.id))
    )


def has_consent(session: Session, child_id: str, scope: str, at: datetime | None = None) -> bool:
    """A consent for ``scope`` in force now (or, for a replay, at the instant ``at``)."""
    if at is None:
        return bool(consents_in_force(session, child_id, scope))
    then = select(Consent.id).where(
        Consent.child_id == child_id,
        Consent.scope == scope,
        Consent.recorded_at <= at,
        or_(Consent.withdrawn_at.is_(None), Consent.withdrawn_at > at),
    )
    return session.scalars(then.limit(1)).first() is not None


def children_with_consent(session: Session, scope: str) -> set[str]:
    """Every child with a consent in force for ``scope`` (for a list under a consent purpose)."""
    return set(
        session.scalars(
            select(Consent.child_id)
            .where(Consent.scope == scope, Consent.withdrawn_at.is_(None))
            .distinct()
        )
    )
