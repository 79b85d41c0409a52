"""Break-glass: a time-limited override with a typed reason, for the roles the agreements name.

Every override goes on the IG review list (``review_state = open``) until an IG officer closes
it; each lookup made under it names ``break-glass:<id>`` as its clause in the audit.
Address and location stay withheld even then.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Select, case, func, select
from sqlalchemy.orm import Session

from gateway import clock
from gateway.access.agreements import Agreement, may_break_glass
from gateway.access.audit import Actor, AuditEvent, append
from gateway.access.purposes import UnknownPurposeError, purpose_for
from gateway.errors import RequestRefusedError
from gateway.settings import settings
from gateway.store.tables import AuditEntry, BreakGlass

MIN_REASON_LENGTH = 20
MIN_REASON_WORDS = 4


class BreakGlassRefusedError(RequestRefusedError):
    """The override cannot be opened (role not named, reason too short) or closed."""


def break_glass_minutes() -> int:
    return settings().break_glass_minutes


def reason_problem(reason: str) -> str | None:
    """What is wrong with a typed reason, if anything: too short, or not words at all."""
    text = reason.strip()
    words = [w for w in text.split() if any(c.isalpha() for c in w)]
    if len(text) < MIN_REASON_LENGTH:
        return f"type the reason for the override (at least {MIN_REASON_LENGTH} characters)"
    if len(words) < MIN_REASON_WORDS or len(set(text.replace(" ", "").lower())) < 5:
        return f"say why in words (at least {MIN_REASON_WORDS} words), for the IG review"
    return None


def open_break_glass(
    session: Session,
    actor: Actor,
    child_id: str,
    purpose: str,
    reason: str,
    *,
    agreements: list[Agreement],
) -> BreakGlass:
    """Open an override for one actor, child and purpose, in the caller's transaction: only
    for a role an agreement in force names for break-glass, at a party to it, for a purpose it
    covers; with a reason in words; and not while the same actor's override for the same child
    and purpose is still open for IG review."""
    purpose_for(purpose)
    now = datetime.now(UTC)
    if not may_break_glass(agreements, actor, purpose, clock.today()):
        raise BreakGlassRefusedError(
            "no data-sharing agreement lets your role and organisation break the glass for "
            "this purpose"
        )
    problem = reason_problem(reason)
    if problem:
        raise BreakGlassRefusedError(problem)
    if open_override(session, actor, child_id, purpose) is not None:
        raise BreakGlassRefusedError(
            "an override of yours for this child and purpose is still open for IG review"
        )
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
    session: Session,
    actor: Actor,
    child_id: str,
    purpose: str,
    reason: str,
    *,
    agreements: list[Agreement],
) -> BreakGlass:
    """Open an override and audit it (the API's and the web form's one way in).

    A refusal (role not named, reason too short, unknown purpose) is rolled back, audited with
    its reason and committed, then raised; on success the caller commits."""
    try:
        override = open_break_glass(
            session, actor, child_id, purpose, reason, agreements=agreements
        )
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


def _overrides_of(actor: Actor, child_id: str, purpose: str) -> Select[Any]:
    return select(BreakGlass).where(
        BreakGlass.actor == actor.user,
        BreakGlass.organisation == actor.organisation,
        BreakGlass.child_id == child_id,
        BreakGlass.purpose == purpose,
    )


def active_override(
    session: Session, actor: Actor, child_id: str, purpose: str, now: datetime | None = None
) -> BreakGlass | None:
    """The actor's unexpired override for this child and purpose, if any (at ``now``: a
    replay asks as of an instant)."""
    moment = now or datetime.now(UTC)
    return session.scalars(
        _overrides_of(actor, child_id, purpose)
        .where(BreakGlass.expires_at > moment, BreakGlass.opened_at <= moment)
        .order_by(BreakGlass.expires_at.desc())
        .limit(1)
    ).first()


def open_override(session: Session, actor: Actor, child_id: str, purpose: str) -> BreakGlass | None:
    """The actor's override for this child and purpose still open for IG review, if any."""
    return session.scalars(
        _overrides_of(actor, child_id, purpose).where(BreakGlass.review_state == "open").limit(1)
    ).first()


def review_list(session: Session, state: str = "open", user: str | None = None) -> list[BreakGlass]:
    """Overrides waiting for (or closed after) IG review, oldest first; one user's if named."""
    query = select(BreakGlass).order_by(BreakGlass.opened_at, BreakGlass.id)
    if state != "all":
        query = query.where(BreakGlass.review_state == state)
    if user:
        query = query.where(BreakGlass.actor == user)
    return list(session.scalars(query))


def overrides_by_user(session: Session) -> list[tuple[str, str, int, int]]:
    """For IG: each user who broke the glass, their organisation, how many overrides in all and
    how many still open for review, most first."""
    still_open = func.sum(case((BreakGlass.review_state == "open", 1), else_=0))
    rows = session.execute(
        select(BreakGlass.actor, BreakGlass.organisation, func.count(), still_open)
        .group_by(BreakGlass.actor, BreakGlass.organisation)
        .order_by(func.count().desc(), BreakGlass.actor)
    )
    return [(user, org, int(total), int(waiting or 0)) for user, org, total, waiting in rows]


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


def clause_of(override_id: int) -> str:
    """How the audit names an override as the basis of a lookup made under it."""
    return f"break-glass:{override_id}"


def lookups_under(session: Session, override_ids: list[int]) -> dict[int, list[AuditEntry]]:
    """The audited lookups made under each override, in chain order (who, when, which fields)."""
    clauses = {clause_of(i): i for i in override_ids}
    found: dict[int, list[AuditEntry]] = {i: [] for i in override_ids}
    if not clauses:
        return found
    rows = session.scalars(
        select(AuditEntry)
        .where(AuditEntry.agreement_clause.in_(clauses), AuditEntry.action == "lookup")
        .order_by(AuditEntry.seq)
    )
    for entry in rows:
        found[clauses[str(entry.agreement_clause)]].append(entry)
    return found


def uses_of(session: Session, override_ids: list[int]) -> dict[int, int]:
    """How many audited lookups each override was used for (by its clause in the audit)."""
    clauses = {clause_of(i): i for i in override_ids}
    if not clauses:
        return {}
    rows = session.execute(
        select(AuditEntry.agreement_clause, func.count())
        .where(AuditEntry.agreement_clause.in_(clauses), AuditEntry.action == "lookup")
        .group_by(AuditEntry.agreement_clause)
    )
    counted = {clauses[clause]: int(n) for clause, n in rows if clause in clauses}
    return {i: counted.get(i, 0) for i in override_ids}
