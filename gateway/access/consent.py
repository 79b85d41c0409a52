"""Consent, recorded separately from lawful basis; needed only where the purpose says so.

A withdrawal takes effect on the next request: every check reads the table afresh.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.access.purposes import purpose_for
from gateway.errors import RequestRefusedError
from gateway.store.tables import Consent


class NoSuchConsentError(RequestRefusedError):
    """There is no consent in force for that child and scope to withdraw."""


def record_consent(session: Session, child_id: str, scope: str, recorded_by: str) -> Consent:
    """Record consent for one purpose (``scope`` is a purpose code), in the caller's transaction."""
    purpose_for(scope)  # only known purposes
    consent = Consent(
        child_id=child_id, scope=scope, recorded_by=recorded_by, given_at=datetime.now(UTC)
    )
    session.add(consent)
    session.flush()
    return consent


def withdraw_consent(session: Session, child_id: str, scope: str, recorded_by: str) -> int:
    """Withdraw every consent in force for the child and scope; how many were withdrawn."""
    held = consents_in_force(session, child_id, scope)
    if not held:
        raise NoSuchConsentError(f"no consent in force for scope {scope}")
    now = datetime.now(UTC)
    for consent in held:
        consent.withdrawn_at = now
        consent.withdrawn_recorded_by = recorded_by
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


def has_consent(session: Session, child_id: str, scope: str) -> bool:
    return bool(consents_in_force(session, child_id, scope))


def children_with_consent(session: Session, scope: str) -> set[str]:
    """Every child with a consent in force for ``scope`` (for a list under a consent purpose)."""
    return set(
        session.scalars(
            select(Consent.child_id)
            .where(Consent.scope == scope, Consent.withdrawn_at.is_(None))
            .distinct()
        )
    )
