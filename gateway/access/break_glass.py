"""Break-glass: a time-limited override with a typed reason, for named roles only.

Every override goes on the IG review list (``review_state = open``) until an IG officer closes
it; each lookup made under it names ``break-glass:<id>`` as its clause in the audit.
Address and location stay withheld even then.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gateway.access.audit import Actor, AuditEvent, append
from gateway.access.purposes import UnknownPurposeError, purpose_for
from gateway.errors import RequestRefusedError
from gateway.store.tables import AuditEntry, BreakGlass

# The roles that may break the glass: practitioners with statutory safeguarding duties.
BREAK_GLASS_ROLES = ("social_worker", "health_practitioner")
MIN_REASON_LENGTH = 20


class BreakGlassRefusedError(RequestRefusedError):
    """The override cannot be opened (role not named, reason too short) or closed."""


def break_glass_minutes() -> int:
    return int(os.environ.get("EHE_BREAK_GLASS_MINUTES", "60"))


def open_break_glass(
    session: Session, actor: Actor, child_id: str, purpose: str, reason: str
) -> BreakGlass:
    """Open an override for one actor, child and purpose, in the caller's transaction."""
    purpose_for(purpose)
    if actor.role not in BREAK_GLASS_ROLES:
        raise BreakGlassRefusedError(
            f"only these roles may break the glass: {', '.join(BREAK_GLASS_ROLES)}"
        )
    if len(reason.strip()) < MIN_REASON_LENGTH:
        raise BreakGlassRefusedError(
            f"type the reason for the override (at least {MIN_REASON_LENGTH} characters)"
        )
    now = datetime.now(UTC)
    override = BreakGlass(
        actor=actor.user,
        organisation=actor.organisation,
        role=actor.role,
        child_id=child_id,
        purpose=purpose,
        reason=reason.strip(),
        opened_at=now,
        expires_at=now + timedelta(minutes=break_glass_minutes()),
        review_state="open",
    )
    session.add(override)
    session.flush()
    return override


def request_break_glass(
    session: Session, actor: Actor, child_id: str, purpose: str, reason: str
) -> BreakGlass:
    """Open an override and audit it (the API's and the web form's one way in).

    A refusal (role not named, reason too short, unknown purpose) is rolled back, audited with
    its reason and committed, then raised; on success the caller commits."""
    try:
        override = open_break_glass(session, actor, child_id, purpose, reason)
    except (BreakGlassRefusedError, UnknownPurposeError) as exc:
        session.rollback()
        refusal = AuditEvent(
            actor=actor,
            action="break_glass",
            outcome="refused",
            purpose=purpose[:60],
            child_id=child_id,
            reason=exc.reason,
        )
        append(session, refusal)
        session.commit()
        raise
    append(
        session,
        AuditEvent(
            actor=actor,
            action="break_glass",
            outcome="recorded",
            purpose=purpose,
            child_id=child_id,
        ),
    )
    return override


def active_override(
    session: Session, actor: Actor, child_id: str, purpose: str, now: datetime | None = None
) -> BreakGlass | None:
    """The actor's unexpired override for this child and purpose, if any."""
    moment = now or datetime.now(UTC)
    return session.scalars(
        select(BreakGlass)
        .where(
            BreakGlass.actor == actor.user,
            BreakGlass.organisation == actor.organisation,
            BreakGlass.child_id == child_id,
            BreakGlass.purpose == purpose,
            BreakGlass.expires_at > moment,
        )
        .order_by(BreakGlass.expires_at.desc())
        .limit(1)
    ).first()


def review_list(session: Session, state: str = "open") -> list[BreakGlass]:
    """Overrides waiting for (or closed after) IG review, oldest first."""
    query = select(BreakGlass).order_by(BreakGlass.opened_at, BreakGlass.id)
    if state != "all":
        query = query.where(BreakGlass.review_state == state)
    return list(session.scalars(query))


def close_review(session: Session, override_id: int, reviewer: Actor, note: str) -> BreakGlass:
    """An IG officer closes the review of one override, with a note."""
    override = session.get(BreakGlass, override_id)
    if override is None:
        raise BreakGlassRefusedError(f"no break-glass override {override_id}")
    if override.review_state == "closed":
        raise BreakGlassRefusedError(f"break-glass override {override_id} is already closed")
    if not note.strip():
        raise BreakGlassRefusedError("say what the review found (a note is required)")
    override.review_state = "closed"
    override.reviewed_by = reviewer.user
    override.reviewed_at = datetime.now(UTC)
    override.review_note = note.strip()
    session.flush()
    return override


def uses_of(session: Session, override_ids: list[int]) -> dict[int, int]:
    """How many audited lookups each override was used for (by its clause in the audit)."""
    clauses = {f"break-glass:{i}": i for i in override_ids}
    if not clauses:
        return {}
    rows = session.execute(
        select(AuditEntry.agreement_clause, func.count())
        .where(AuditEntry.agreement_clause.in_(clauses), AuditEntry.action == "lookup")
        .group_by(AuditEntry.agreement_clause)
    )
    counted = {clauses[clause]: int(n) for clause, n in rows if clause in clauses}
    return {i: counted.get(i, 0) for i in override_ids}
