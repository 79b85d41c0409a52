"""Point-in-time replay for practice reviews: what the index held about a child at an instant,
what a lookup would have answered then to a given role, organisation and purpose, and who
looked and what they were shown, from the audit log.

The answer is decided by the policy point itself (``disclosure.judged``, the decision
``disclose`` makes, with nothing written) over the child as the index held it then
(``gateway.as_of``): the agreement's clause as in force on that day, break-glass overrides open
then, consent in force then, the restricted verdict and held notices of the records then
current. The agreements are those configured now (the gateway keeps no history of them): the
replay says so. Only IG officers may replay (``REPLAY_ROLES``); every replay, and every refusal
of one, is audited (action ``replay``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from typing import Any

from pydantic_core import to_jsonable_python
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway import clock
from gateway.access.agreements import Agreement, decide
from gateway.access.audit import Actor, AuditEvent, append
from gateway.access.audit_queries import AuditEntryOut
from gateway.access.break_glass import active_override
from gateway.access.consent import has_consent
from gateway.access.purposes import Purpose
from gateway.access.roles import REPLAY_ROLES
from gateway.as_of import ChildThen, child_as_of, utc
from gateway.errors import RequestRefusedError
from gateway.policy.disclosure import Disclosure, judged
from gateway.store.tables import AuditEntry

AGREEMENT_NOTE = (
    "Decided under the data-sharing agreements configured now: the gateway keeps no history "
    "of them, so a clause changed since then is applied as it reads today."
)
REPLAY_PURPOSE = "practice review"
# What a replay shows, named in its audit entry.
REPLAY_FIELDS = ["record_versions", "links", "lookup_answer", "audit_trail"]


class ReplayRefusedError(RequestRefusedError):
    """Only IG officers may replay (the refusal is audited)."""


@dataclass
class Replay:
    """One replay: the child as held then, the lookup's answer then (None: refused, with the
    entry that would have recorded it), and the audit entries about the child up to then."""

    at: datetime
    day: date
    actor: Actor
    purpose: Purpose
    child: ChildThen
    answer: Disclosure | None = None
    entry: AuditEvent | None = None
    looked: list[AuditEntryOut] = field(default_factory=list)
    agreement_note: str = AGREEMENT_NOTE

    @property
    def outcome(self) -> str:
        """What the lookup's entry would have recorded (``not_found``: no such child then)."""
        return self.entry.outcome if self.entry else "not_found"

    def as_json(self) -> dict[str, Any]:
        """The three parts as plain JSON values (for ``--json`` and tests)."""
        then = self.child
        entry = self.entry
        return to_jsonable_python(
            {
                "as_of": self.at,
                "agreements_read_on": self.day,
                "agreement_note": self.agreement_note,
                "held": {
                    "child_asked": then.asked,
                    "child_id": then.child_id,
                    "merged_into_it": then.merged,
                    "restricted": then.found.restricted if then.found else None,
                    "links": [asdict(link) for link in then.links],
                    "record_versions": [asdict(v) for v in then.versions],
                    "held_back": [asdict(n) for n in then.found.held] if then.found else [],
                    "gaps": then.gaps,
                },
                "lookup": {
                    "user": self.actor.user,
                    "role": self.actor.role,
                    "organisation": self.actor.organisation,
                    "purpose": self.purpose.code,
                    "outcome": self.outcome,
                    "agreement_clause": entry.agreement_clause if entry else None,
                    "reason": entry.reason if entry else None,
                    "fields_disclosed": entry.fields_disclosed if entry else [],
                    "fields_refused": entry.fields_refused if entry else [],
                    "answer_digest": entry.answer_digest if entry else None,
                    "answer": self.answer.model_dump(mode="json") if self.answer else None,
                },
                "looked": [e.model_dump(mode="json") for e in self.looked],
            }
        )


def replay(
    session: Session,
    viewer: Actor,
    child_id: str,
    at: datetime,
    *,
    actor: Actor,
    purpose: Purpose,
    agreements: list[Agreement],
    today: date | None = None,
) -> Replay:
    """Replay a lookup of ``child_id`` by ``actor`` for ``purpose`` at the instant ``at``,
    for ``viewer`` (an IG officer), and audit the replay in the caller's transaction (the
    caller commits). ``today``: the day the agreements are read on (by default the day the
    gateway acted on then, ``clock.day_of``)."""
    at = utc(at)
    if viewer.role not in REPLAY_ROLES:
        append(session, _entry(viewer, child_id, at, actor, purpose, outcome="refused"))
        raise ReplayRefusedError("only IG officers may replay what the index held")
    day = today or clock.day_of(at)
    then = child_as_of(session, child_id, at)
    result = Replay(at=at, day=day, actor=actor, purpose=purpose, child=then)
    if then.found is not None:
        decision = decide(agreements, actor, purpose.code, day)
        override = (
            None
            if decision.allowed
            else active_override(session, actor, then.found.child_id, purpose.code, now=at)
        )
        consented = purpose.requires_consent and has_consent(
            session, then.found.child_id, purpose.code, at=at
        )
        result.answer, result.entry = judged(
            actor, purpose, then.found, decision, override, consented=consented
        )
    result.looked = audit_trail(session, [child_id, then.child_id, *then.merged], at)
    append(session, _entry(viewer, child_id, at, actor, purpose, outcome="replayed"))
    return result


def audit_trail(session: Session, child_ids: list[str | None], at: datetime) -> list[AuditEntryOut]:
    """Every audit entry naming one of the children, up to ``at``, oldest first."""
    wanted = sorted({c for c in child_ids if c})
    query = (
        select(AuditEntry)
        .where(AuditEntry.child_id.in_(wanted), AuditEntry.at <= at)
        .order_by(AuditEntry.seq)
    )
    return [AuditEntryOut.of(entry) for entry in session.scalars(query)]


def _entry(
    viewer: Actor, child_id: str, at: datetime, actor: Actor, purpose: Purpose, *, outcome: str
) -> AuditEvent:
    """The replay's own entry: who replayed which child, as of when, as whom (ids, roles and
    organisations only)."""
    replayed = "replayed" == outcome
    return AuditEvent(
        actor=viewer,
        action="replay",
        outcome=outcome,
        purpose=REPLAY_PURPOSE,
        child_id=child_id,
        fields_disclosed=REPLAY_FIELDS if replayed else [],
        fields_refused=[] if replayed else REPLAY_FIELDS,
        reason=(
            f"as of {at.isoformat()}; as {actor.user} ({actor.role}, {actor.organisation}) "
            f"for {purpose.code}"
        ),
    )
